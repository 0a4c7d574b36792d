// One architecture's build of the kernels behind the Kernel interface (kernels.hpp).
// Included by arch_*.cpp with PF_ARCH_NS, PF_ARCH_NAME and PF_REAL (double or float) defined,
// once per precision.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#undef PF_MATHFUN_HPP
#undef PF_SYMFUNC_HPP
#undef PF_MLP_HPP
#undef PF_HDNNP_HPP

#include "kernels.hpp"
#include "hdnnp.hpp"

namespace potforge {
namespace PF_ARCH_NS {

class KernelImpl final : public potforge::Kernel {
public:
    explicit KernelImpl(const KernelDescription& d) : sf_(build_sf(d)) {
        if (d.networks.empty()) return;
        if (static_cast<int>(d.networks.size()) != d.n_species ||
            static_cast<int>(d.scaling.size()) != d.n_species)
            throw std::invalid_argument("need one network and one scaling per species");
        for (int e = 0; e < d.n_species; ++e) {
            const NetworkDescription& nd = d.networks[e];
            Network net;
            net.normalize = nd.normalize;
            if (nd.layers.empty()) throw std::invalid_argument("network without layers");
            for (const LayerDescription& ld : nd.layers) {
                DenseLayer layer;
                layer.n_in = ld.n_in;
                layer.n_out = ld.n_out;
                layer.activation = ld.activation;
                if (ld.n_in < 1 || ld.n_out < 1 ||
                    ld.W.size() != static_cast<size_t>(ld.n_in) * static_cast<size_t>(ld.n_out) ||
                    ld.b.size() != static_cast<size_t>(ld.n_out))
                    throw std::invalid_argument("layer arrays do not match its size");
                layer.W = representable(ld.W, "network weight");
                layer.b = representable(ld.b, "network bias");
                real f, df;
                activate(layer.activation, real(0), f, df);  // throws for unknown codes
                if (!net.layers.empty() && layer.n_in != net.layers.back().n_out)
                    throw std::invalid_argument("consecutive layer sizes do not match");
                net.layers.push_back(std::move(layer));
            }
            if (net.layers.back().n_out != 1)
                throw std::invalid_argument("network output must be scalar");
            if (net.n_inputs() != sf_.n_sf(e))
                throw std::invalid_argument(
                    "network input size differs from the number of symmetry functions");
            nets_.push_back(std::move(net));
            const ScalingDescription& sd = d.scaling[e];
            const size_t n = static_cast<size_t>(sf_.n_sf(e));
            if (sd.factor.size() != n || sd.offset.size() != n || sd.gmin.size() != n ||
                sd.gmax.size() != n)
                throw std::invalid_argument("scaling arrays must have one entry per symmetry function");
            for (size_t k = 0; k < n; ++k)
                if (std::isnan(sd.gmin[k]) || std::isnan(sd.gmax[k]))
                    throw std::invalid_argument("scaling range is NaN");
            scaling_.push_back(ElementScaling{representable(sd.factor, "scaling factor"),
                                              representable(sd.offset, "scaling offset"),
                                              sd.gmin, sd.gmax});
        }
    }

    const char* architecture() const override { return PF_ARCH_NAME; }
    const char* precision() const override { return real_is_float ? "float32" : "float64"; }
    int n_species() const override { return sf_.n_species(); }
    int n_sf(int species) const override { return sf_.n_sf(species); }
    int n_sf_max() const override { return sf_.n_sf_max(); }
    double cutoff() const override { return sf_.cutoff(); }
    bool has_networks() const override { return !nets_.empty(); }

    void symmetry_functions(int64_t n_atoms, const int32_t* species, const double* atom_weight,
                            const potforge::NeighborView& nl, double* values,
                            double* pair_jacobian, int n_threads) const override {
        symmetry_functions_all(sf_, n_atoms, species, atom_weight, nl, values, pair_jacobian,
                               n_threads);
    }

    void hdnnp_evaluate(int64_t n_atoms, int64_t n_total, const int32_t* species,
                        const double* atom_weight, const potforge::NeighborView& nl,
                        double output_scale, bool want_forces, bool want_atom_virial,
                        double extrapolation_tolerance, int n_threads,
                        potforge::HDNNPOutput& out) const override {
        if (nets_.empty()) throw std::invalid_argument("kernel has no networks");
        if (n_total < n_atoms) throw std::invalid_argument("n_total < n_atoms");
        PF_ARCH_NS::hdnnp_evaluate(sf_, nets_, scaling_, n_atoms, n_total, species, atom_weight,
                                   nl, output_scale, want_forces, want_atom_virial,
                                   extrapolation_tolerance, n_threads, out);
    }

    void symmetry_functions_backward(int64_t n_atoms, const int32_t* species,
                                     const double* atom_weight, const potforge::NeighborView& nl,
                                     const double* dE_dG, int n_threads, double* forces,
                                     std::array<double, 9>& strain) const override {
        PF_ARCH_NS::symmetry_functions_backward(sf_, n_atoms, species, atom_weight, nl, dE_dG,
                                                n_threads, forces, strain);
    }

private:
    // values in the kernel's precision; a value that is not finite there (NaN, inf, or beyond
    // float's range in a float32 kernel) would only ever produce NaN, so it is refused
    static std::vector<real> representable(const std::vector<double>& v, const char* what) {
        std::vector<real> out(v.size());
        for (size_t k = 0; k < v.size(); ++k) {
            if (!(std::fabs(v[k]) <= static_cast<double>(std::numeric_limits<real>::max())))
                throw std::invalid_argument(std::string(what) + " " + number_text(v[k]) +
                                            " is not a finite number in " +
                                            (real_is_float ? "float32" : "float64"));
            out[k] = static_cast<real>(v[k]);
        }
        return out;
    }

    static SymmetryFunctionKernel build_sf(const KernelDescription& d) {
        std::vector<std::vector<SFSpec>> per_element;
        for (const auto& rows : d.sf_rows) {
            std::vector<SFSpec> sfs;
            for (const auto& row : rows) sfs.push_back(spec_from_row(row.data()));
            per_element.push_back(std::move(sfs));
        }
        return SymmetryFunctionKernel(per_element, d.n_species);
    }

    SymmetryFunctionKernel sf_;
    std::vector<Network> nets_;
    std::vector<ElementScaling> scaling_;
};

}  // namespace PF_ARCH_NS
}  // namespace potforge
