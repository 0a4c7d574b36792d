// The architecture-neutral interface of the compiled kernels.
//
// The kernels (mathfun/symfunc/mlp/hdnnp.hpp) are compiled several times, once per x86-64
// instruction-set level (baseline SSE2, x86-64-v3 = AVX2/FMA, x86-64-v4 = AVX-512), each copy
// in its own namespace (arch_*.cpp), and module.cpp picks the best one the CPU supports at run
// time. A build made on one machine therefore runs on any x86-64 machine, and still uses the
// vector units of the machine it runs on. Only plain data crosses this interface.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace potforge {

struct NeighborView {
    const int64_t* offsets;    // n_atoms + 1
    const int64_t* neighbor;   // n_pairs
    const double* vectors;     // 3 per pair
    const double* distances;   // n_pairs
};

struct LayerDescription {
    int n_in = 0, n_out = 0, activation = 0;
    std::vector<double> W, b;  // W: n_out x n_in row-major
};

struct NetworkDescription {
    std::vector<LayerDescription> layers;
    bool normalize = false;
};

struct ScalingDescription {
    std::vector<double> factor, offset, gmin, gmax;
};

struct KernelDescription {
    int n_species = 0;
    bool single_precision = false;  // float32 arithmetic inside (inputs and outputs stay double)
    std::vector<std::vector<std::array<double, 16>>> sf_rows;  // per species, SF table rows
    std::vector<NetworkDescription> networks;                   // empty: descriptors only
    std::vector<ScalingDescription> scaling;
};

struct HDNNPOutput {
    std::vector<double> atomic;                 // output_scale * network output, per atom
    std::vector<double> forces;                 // 3 per atom
    std::array<double, 9> strain_derivative{};  // sum_n d_n (x) dE/dd_n
    std::vector<int32_t> extrapolations;        // per atom
    std::vector<double> atom_virial;            // 9 per centre atom, if requested
};

class Kernel {
public:
    virtual ~Kernel() = default;
    virtual const char* architecture() const = 0;
    virtual const char* precision() const = 0;
    virtual int n_species() const = 0;
    virtual int n_sf(int species) const = 0;
    virtual int n_sf_max() const = 0;
    virtual double cutoff() const = 0;
    virtual bool has_networks() const = 0;
    // values: n_atoms x n_sf_max (zero-initialised by the caller); pair_jacobian:
    // n_pairs x n_sf_max x 3 (zero-initialised) or null.
    virtual void symmetry_functions(int64_t n_atoms, const int32_t* species,
                                    const double* atom_weight, const NeighborView& nl,
                                    double* values, double* pair_jacobian, int n_threads) const = 0;
    // Centres 0..n_atoms-1 (the rows of nl), neighbours among 0..n_total-1 (species and
    // atom_weight have n_total entries; forces 3 * n_total): hdnnp.hpp, hdnnp_evaluate.
    virtual void hdnnp_evaluate(int64_t n_atoms, int64_t n_total, const int32_t* species,
                                const double* atom_weight, const NeighborView& nl,
                                double output_scale, bool want_forces, bool want_atom_virial,
                                double extrapolation_tolerance, int n_threads,
                                HDNNPOutput& out) const = 0;
    // forces (3 per atom, overwritten) = -dE/dr and strain = sum_n d_n (x) dE/dd_n for
    // E depending on the functions with weights dE_dG (n_atoms x n_sf_max)
    virtual void symmetry_functions_backward(int64_t n_atoms, const int32_t* species,
                                             const double* atom_weight, const NeighborView& nl,
                                             const double* dE_dG, int n_threads, double* forces,
                                             std::array<double, 9>& strain) const = 0;
};

// Factories, one per compiled architecture (nullptr where not compiled for this platform).
std::unique_ptr<Kernel> make_kernel_baseline(const KernelDescription& d);
std::unique_ptr<Kernel> make_kernel_x86_64_v3(const KernelDescription& d);
std::unique_ptr<Kernel> make_kernel_x86_64_v4(const KernelDescription& d);
std::unique_ptr<Kernel> make_kernel_x86_64_v3_f32(const KernelDescription& d);
std::unique_ptr<Kernel> make_kernel_x86_64_v4_f32(const KernelDescription& d);

// Scalar helpers of the baseline build, exposed for tests.
void baseline_exp(const double* x, double* out, int64_t n);
void baseline_cutoff(int type, double rc, double alpha, const double* r, double* f, double* df,
                     int64_t n);
void baseline_activation(int type, const double* x, double* f, double* df, int64_t n);

}  // namespace potforge
