// Feed-forward atomic networks (one per element) with the activation functions that n2p2's
// input.nn allows, evaluated per atom with the gradient of the output w.r.t. the inputs.
#ifndef PF_MLP_HPP  // once per kernel_impl.hpp inclusion (it resets these guards)
#define PF_MLP_HPP

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "mathfun.hpp"

namespace potforge {
namespace PF_ARCH_NS {

// Activation codes; the letters are n2p2's `global_activation_short` letters.
enum Activation : int {
    ACT_LINEAR = 0,    // l: x
    ACT_TANH = 1,      // t: tanh x
    ACT_LOGISTIC = 2,  // s: 1/(1+e^-x), clipped to 0/1 beyond |x| > 35 as n2p2 does
    ACT_SOFTPLUS = 3,  // p: ln(1+e^x), x beyond 35 -> x, below -35 -> 0
    ACT_RELU = 4,      // r: max(0, x)
    ACT_GAUSSIAN = 5,  // g: exp(-x^2/2)
    ACT_COS = 6,       // c: cos x
    ACT_REVLOGISTIC = 7,  // S: 1 - 1/(1+e^-x)
    ACT_EXP = 8,       // e: exp(-x)
    ACT_HARMONIC = 9,  // h: x^2
};

inline void activate(int type, real x, real& f, real& df) {
    switch (type) {
        case ACT_LINEAR: f = x; df = 1.0; return;
        case ACT_TANH: f = std::tanh(x); df = 1.0 - f * f; return;
        case ACT_LOGISTIC:
            if (x > 35.0) { f = 1.0; df = 0.0; }
            else if (x < -35.0) { f = 0.0; df = 0.0; }
            else { f = 1.0 / (1.0 + std::exp(-x)); df = f * (1.0 - f); }
            return;
        case ACT_SOFTPLUS:
            if (x > 35.0) { f = x; df = 1.0; }
            else if (x < -35.0) { f = 0.0; df = 0.0; }
            else { f = std::log1p(std::exp(x)); df = 1.0 / (1.0 + std::exp(-x)); }
            return;
        case ACT_RELU: f = x > 0.0 ? x : 0.0; df = x > 0.0 ? 1.0 : 0.0; return;
        case ACT_GAUSSIAN: f = std::exp(-0.5 * x * x); df = -x * f; return;
        case ACT_COS: f = std::cos(x); df = -std::sin(x); return;
        case ACT_REVLOGISTIC: {
            const real s = 1.0 / (1.0 + std::exp(-x));
            f = 1.0 - s; df = s * (s - 1.0); return;
        }
        case ACT_EXP: f = std::exp(-x); df = -f; return;
        case ACT_HARMONIC: f = x * x; df = 2.0 * x; return;
        default: throw std::invalid_argument("unknown activation code " + std::to_string(type));
    }
}

struct DenseLayer {
    int n_in = 0, n_out = 0, activation = ACT_LINEAR;
    std::vector<real> W;  // n_out x n_in, row-major
    std::vector<real> b;  // n_out
};

struct Network {
    std::vector<DenseLayer> layers;
    bool normalize = false;  // n2p2 normalize_nodes: (W y + b) / n_in in every layer
    int n_inputs() const { return layers.empty() ? 0 : layers.front().n_in; }
    int width() const {
        int w = n_inputs();
        for (const auto& l : layers) w = std::max(w, l.n_out);
        return w;
    }
};

struct NetworkScratch {
    std::vector<std::vector<real>> y, dy;  // activations and derivatives per layer
    std::vector<real> delta, delta_prev;
};

// Output (scalar) of the network and, if grad != nullptr, d output / d input.
inline real network_forward_backward(const Network& net, const real* input, real* grad,
                                       NetworkScratch& s) {
    const size_t L = net.layers.size();
    if (s.y.size() < L + 1) { s.y.resize(L + 1); s.dy.resize(L + 1); }
    s.y[0].assign(input, input + net.n_inputs());
    for (size_t l = 0; l < L; ++l) {
        const DenseLayer& layer = net.layers[l];
        std::vector<real>& out = s.y[l + 1];
        std::vector<real>& dout = s.dy[l + 1];
        out.resize(layer.n_out);
        dout.resize(layer.n_out);
        const real* in = s.y[l].data();
        const real norm = net.normalize ? 1.0 / layer.n_in : 1.0;
        for (int o = 0; o < layer.n_out; ++o) {
            const real* w = layer.W.data() + static_cast<size_t>(o) * layer.n_in;
            real z = layer.b[o];
            for (int i = 0; i < layer.n_in; ++i) z += w[i] * in[i];
            activate(layer.activation, z * norm, out[o], dout[o]);
        }
    }
    const real result = s.y[L][0];
    if (grad == nullptr) return result;
    s.delta.assign(1, s.dy[L][0]);
    for (size_t l = L; l-- > 0;) {
        const DenseLayer& layer = net.layers[l];
        const real norm = net.normalize ? 1.0 / layer.n_in : 1.0;
        s.delta_prev.assign(layer.n_in, 0.0);
        for (int o = 0; o < layer.n_out; ++o) {
            const real d = s.delta[o] * norm;
            const real* w = layer.W.data() + static_cast<size_t>(o) * layer.n_in;
            for (int i = 0; i < layer.n_in; ++i) s.delta_prev[i] += d * w[i];
        }
        if (l > 0) {
            const std::vector<real>& dprev = s.dy[l];
            for (int i = 0; i < layer.n_in; ++i) s.delta_prev[i] *= dprev[i];
        }
        s.delta.swap(s.delta_prev);
    }
    for (int i = 0; i < net.n_inputs(); ++i) grad[i] = s.delta[i];
    return result;
}

}  // namespace PF_ARCH_NS
}  // namespace potforge

#endif  // PF_MLP_HPP
