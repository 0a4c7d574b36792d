// potforge._native: the compiled kernels of potforge.
//
// Pure functions of arrays (no I/O, no globals). The Python
// wrappers in core/neighbors.py, descriptors/symmetry_functions.py and models/hdnnp/ are the
// public interface; this module is an implementation detail that any layer may call.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "arch_select.hpp"
#include "kernels.hpp"
#include "neighbors.hpp"

namespace py = pybind11;
using namespace potforge;

using darray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using larray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;
using iarray = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;

constexpr int SF_TABLE_COLUMNS = 16;

template <typename T>
static py::array_t<T> to_numpy(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
    auto* heap = new std::vector<T>(std::move(v));
    py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
    return py::array_t<T>(shape, heap->data(), owner);
}

static py::tuple py_neighbor_list(darray positions, darray cell, std::array<bool, 3> pbc,
                                  double cutoff, int n_threads, int64_t max_pairs,
                                  int64_t max_dense_cells) {
    if (positions.ndim() != 2 || positions.shape(1) != 3)
        throw std::invalid_argument("positions must have shape (n_atoms, 3)");
    if (cell.ndim() != 2 || cell.shape(0) != 3 || cell.shape(1) != 3)
        throw std::invalid_argument("cell must have shape (3, 3)");
    if (!(cutoff > 0.0) || !std::isfinite(cutoff) || max_pairs < 0)
        throw std::invalid_argument("cutoff must be finite and positive, max_pairs >= 0");
    const size_t n_atoms = static_cast<size_t>(positions.shape(0));
    double box[3][3];
    for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) box[a][b] = cell.at(a, b);
    bool periodic[3] = {pbc[0], pbc[1], pbc[2]};
    NeighborListData nl;
    {
        py::gil_scoped_release release;
        nl = compute_neighbor_list(positions.data(), n_atoms, box, periodic, cutoff, n_threads,
                                   max_pairs, max_dense_cells);
    }
    const py::ssize_t n = static_cast<py::ssize_t>(nl.distance.size());
    return py::make_tuple(to_numpy(std::move(nl.center), {n}),
                          to_numpy(std::move(nl.neighbor), {n}),
                          to_numpy(std::move(nl.shift), {n, 3}),
                          to_numpy(std::move(nl.vector), {n, 3}),
                          to_numpy(std::move(nl.distance), {n}),
                          to_numpy(std::move(nl.offsets), {static_cast<py::ssize_t>(n_atoms) + 1}));
}

// -- kernel construction from Python objects -------------------------------------------------------
static std::shared_ptr<Kernel> py_make_kernel(const std::vector<darray>& tables, int n_species,
                                              py::object networks, py::object scalings,
                                              const std::string& arch, const std::string& dtype) {
    KernelDescription d;
    d.n_species = n_species;
    if (dtype != "float64" && dtype != "float32")
        throw std::invalid_argument("dtype must be 'float64' or 'float32', got '" + dtype + "'");
    d.single_precision = dtype == "float32";
    if (static_cast<int>(tables.size()) != n_species)
        throw std::invalid_argument("need one symmetry-function table per species");
    for (const darray& t : tables) {
        if (t.ndim() != 2 || (t.shape(0) > 0 && t.shape(1) != SF_TABLE_COLUMNS))
            throw std::invalid_argument("symmetry-function tables must have shape (n_sf, 16)");
        std::vector<std::array<double, 16>> rows(t.shape(0));
        for (py::ssize_t r = 0; r < t.shape(0); ++r)
            std::memcpy(rows[r].data(), t.data(r, 0), 16 * sizeof(double));
        d.sf_rows.push_back(std::move(rows));
    }
    if (!networks.is_none()) {
        py::list nets = networks.cast<py::list>();
        py::list scs = scalings.cast<py::list>();
        for (py::handle item : nets) {
            py::tuple spec = item.cast<py::tuple>();  // (weights, biases, activations, normalize)
            auto Ws = spec[0].cast<std::vector<darray>>();
            auto bs = spec[1].cast<std::vector<darray>>();
            auto acts = spec[2].cast<std::vector<int>>();
            if (Ws.size() != bs.size() || Ws.size() != acts.size())
                throw std::invalid_argument("weights, biases and activations differ in count");
            NetworkDescription nd;
            nd.normalize = spec[3].cast<bool>();
            for (size_t l = 0; l < Ws.size(); ++l) {
                if (Ws[l].ndim() != 2 || bs[l].ndim() != 1)
                    throw std::invalid_argument("weights must be 2-d and biases 1-d");
                LayerDescription ld;
                ld.n_out = static_cast<int>(Ws[l].shape(0));
                ld.n_in = static_cast<int>(Ws[l].shape(1));
                ld.activation = acts[l];
                ld.W.assign(Ws[l].data(), Ws[l].data() + Ws[l].size());
                ld.b.assign(bs[l].data(), bs[l].data() + bs[l].size());
                nd.layers.push_back(std::move(ld));
            }
            d.networks.push_back(std::move(nd));
        }
        for (py::handle item : scs) {
            py::tuple sc = item.cast<py::tuple>();  // (factor, offset, gmin, gmax)
            ScalingDescription sd;
            auto vec = [&](int idx) {
                darray a = sc[idx].cast<darray>();
                return std::vector<double>(a.data(), a.data() + a.size());
            };
            sd.factor = vec(0);
            sd.offset = vec(1);
            sd.gmin = vec(2);
            sd.gmax = vec(3);
            d.scaling.push_back(std::move(sd));
        }
    }
    return build_kernel(d, arch);
}

struct NeighborArrays {
    larray offsets, neighbors;
    darray vectors, distances;
    NeighborView view(int64_t n_atoms) const {
        if (offsets.ndim() != 1 || offsets.shape(0) != n_atoms + 1)
            throw std::invalid_argument("offsets must have n_atoms + 1 entries");
        const py::ssize_t n_pairs = neighbors.shape(0);
        if (distances.shape(0) != n_pairs || vectors.ndim() != 2 || vectors.shape(0) != n_pairs ||
            vectors.shape(1) != 3)
            throw std::invalid_argument("inconsistent neighbour-list arrays");
        if (neighbors.ndim() != 1 || distances.ndim() != 1)
            throw std::invalid_argument("neighbours and distances must be 1-d arrays");
        // every index the kernels follow is checked here: a corrupted list must give an
        // error, never a read outside the arrays
        const int64_t* off = offsets.data();
        if (off[0] != 0 || off[n_atoms] != n_pairs)
            throw std::invalid_argument("offsets must start at 0 and end at the number of pairs");
        for (int64_t i = 0; i < n_atoms; ++i)
            if (off[i + 1] < off[i]) throw std::invalid_argument("offsets must not decrease");
        const int64_t* nb = neighbors.data();
        const double* d = distances.data();
        const double* v = vectors.data();
        for (py::ssize_t p = 0; p < n_pairs; ++p) {
            if (nb[p] < 0 || nb[p] >= n_atoms)
                throw std::invalid_argument("neighbour index out of range");
            if (!std::isfinite(d[p]) || d[p] < 0.0 || !std::isfinite(v[3 * p]) ||
                !std::isfinite(v[3 * p + 1]) || !std::isfinite(v[3 * p + 2]))
                throw std::invalid_argument("neighbour distances and vectors must be finite");
        }
        return NeighborView{offsets.data(), neighbors.data(), vectors.data(), distances.data()};
    }
};

static void check_species(const iarray& species, const darray& weights, int n_species) {
    if (species.ndim() != 1 || weights.ndim() != 1 || weights.shape(0) != species.shape(0))
        throw std::invalid_argument("species and atom weights must be 1-d arrays of n_atoms");
    for (py::ssize_t i = 0; i < species.shape(0); ++i) {
        if (species.at(i) < 0 || species.at(i) >= n_species)
            throw std::invalid_argument("species index out of range");
        if (!std::isfinite(weights.at(i)))
            throw std::invalid_argument("atom weights must be finite");
    }
}

static py::tuple py_symmetry_functions(const Kernel& kernel, iarray species, darray weights,
                                       larray offsets, larray neighbors, darray vectors,
                                       darray distances, bool derivatives, int n_threads) {
    check_species(species, weights, kernel.n_species());
    const int64_t n_atoms = species.shape(0);
    NeighborArrays arrays{offsets, neighbors, vectors, distances};
    NeighborView view = arrays.view(n_atoms);
    const int n_max = kernel.n_sf_max();
    py::array_t<double> values({static_cast<py::ssize_t>(n_atoms), static_cast<py::ssize_t>(n_max)});
    std::fill(values.mutable_data(), values.mutable_data() + values.size(), 0.0);
    py::object jac = py::none();
    double* jac_ptr = nullptr;
    if (derivatives) {
        py::array_t<double> j({neighbors.shape(0), static_cast<py::ssize_t>(n_max), py::ssize_t(3)});
        std::fill(j.mutable_data(), j.mutable_data() + j.size(), 0.0);
        jac_ptr = j.mutable_data();
        jac = j;
    }
    double* vptr = values.mutable_data();
    {
        py::gil_scoped_release release;
        kernel.symmetry_functions(n_atoms, species.data(), weights.data(), view, vptr, jac_ptr,
                                  n_threads);
    }
    return py::make_tuple(values, jac);
}

static py::tuple py_hdnnp_evaluate(const Kernel& k, iarray species, darray weights, larray offsets,
                                   larray neighbors, darray vectors, darray distances,
                                   double output_scale, bool forces, double tolerance,
                                   int n_threads) {
    check_species(species, weights, k.n_species());
    if (!std::isfinite(output_scale) || !std::isfinite(tolerance))
        throw std::invalid_argument("output scale and extrapolation tolerance must be finite");
    const int64_t n_atoms = species.shape(0);
    NeighborArrays arrays{offsets, neighbors, vectors, distances};
    NeighborView view = arrays.view(n_atoms);
    HDNNPOutput out;
    {
        py::gil_scoped_release release;
        k.hdnnp_evaluate(n_atoms, n_atoms, species.data(), weights.data(), view, output_scale,
                         forces, false, tolerance, n_threads, out);
    }
    std::vector<double> strain(out.strain_derivative.begin(), out.strain_derivative.end());
    py::object f = py::none();
    if (forces) f = to_numpy(std::move(out.forces), {static_cast<py::ssize_t>(n_atoms), 3});
    return py::make_tuple(to_numpy(std::move(out.atomic), {static_cast<py::ssize_t>(n_atoms)}), f,
                          to_numpy(std::move(strain), {3, 3}),
                          to_numpy(std::move(out.extrapolations), {static_cast<py::ssize_t>(n_atoms)}));
}

static py::tuple py_symmetry_functions_backward(const Kernel& kernel, iarray species,
                                                darray weights, larray offsets, larray neighbors,
                                                darray vectors, darray distances, darray dE_dG,
                                                int n_threads) {
    check_species(species, weights, kernel.n_species());
    const int64_t n_atoms = species.shape(0);
    NeighborArrays arrays{offsets, neighbors, vectors, distances};
    NeighborView view = arrays.view(n_atoms);
    if (dE_dG.ndim() != 2 || dE_dG.shape(0) != n_atoms || dE_dG.shape(1) != kernel.n_sf_max())
        throw std::invalid_argument("dE_dG must have shape (n_atoms, n_sf_max)");
    const double* w = dE_dG.data();
    for (py::ssize_t k = 0; k < dE_dG.size(); ++k)
        if (!std::isfinite(w[k])) throw std::invalid_argument("dE_dG must be finite");
    std::vector<double> forces(3 * static_cast<size_t>(n_atoms));
    std::array<double, 9> strain{};
    {
        py::gil_scoped_release release;
        kernel.symmetry_functions_backward(n_atoms, species.data(), weights.data(), view, w,
                                           n_threads, forces.data(), strain);
    }
    std::vector<double> s(strain.begin(), strain.end());
    return py::make_tuple(to_numpy(std::move(forces), {static_cast<py::ssize_t>(n_atoms), 3}),
                          to_numpy(std::move(s), {3, 3}));
}

static darray py_exp(darray x) {
    darray out(x.size());
    baseline_exp(x.data(), out.mutable_data(), x.size());
    return out;
}

static py::tuple py_cutoff(int type, double rc, double alpha, darray r) {
    darray f(r.size()), df(r.size());
    baseline_cutoff(type, rc, alpha, r.data(), f.mutable_data(), df.mutable_data(), r.size());
    return py::make_tuple(f, df);
}

static py::tuple py_activation(int type, darray x) {
    darray f(x.size()), df(x.size());
    baseline_activation(type, x.data(), f.mutable_data(), df.mutable_data(), x.size());
    return py::make_tuple(f, df);
}

PYBIND11_MODULE(_native, m) {
    m.doc() = "potforge compiled kernels (implementation detail; use the Python wrappers)";
    py::register_exception<NeighborListError>(m, "NeighborListError", PyExc_ValueError);
    m.def("neighbor_list", &py_neighbor_list, py::arg("positions"), py::arg("cell"),
          py::arg("pbc"), py::arg("cutoff"), py::arg("n_threads"), py::arg("max_pairs"),
          py::arg("max_dense_cells") = -1);
    py::class_<Kernel, std::shared_ptr<Kernel>>(m, "Kernel", py::module_local())
        .def_property_readonly("architecture", &Kernel::architecture)
        .def_property_readonly("precision", &Kernel::precision)
        .def_property_readonly("n_species", &Kernel::n_species)
        .def("n_sf", &Kernel::n_sf)
        .def_property_readonly("n_sf_max", &Kernel::n_sf_max)
        .def_property_readonly("cutoff", &Kernel::cutoff)
        .def_property_readonly("has_networks", &Kernel::has_networks);
    m.def("make_kernel", &py_make_kernel, py::arg("tables"), py::arg("n_species"),
          py::arg("networks") = py::none(), py::arg("scalings") = py::none(),
          py::arg("architecture") = "auto", py::arg("dtype") = "float64");
    m.def("symmetry_functions", &py_symmetry_functions, py::arg("kernel"), py::arg("species"),
          py::arg("atom_weights"), py::arg("offsets"), py::arg("neighbors"), py::arg("vectors"),
          py::arg("distances"), py::arg("derivatives") = false, py::arg("n_threads") = 1);
    m.def("hdnnp_evaluate", &py_hdnnp_evaluate, py::arg("kernel"), py::arg("species"),
          py::arg("atom_weights"), py::arg("offsets"), py::arg("neighbors"), py::arg("vectors"),
          py::arg("distances"), py::arg("output_scale"), py::arg("forces") = true,
          py::arg("extrapolation_tolerance") = 0.0, py::arg("n_threads") = 1);
    m.def("symmetry_functions_backward", &py_symmetry_functions_backward, py::arg("kernel"),
          py::arg("species"), py::arg("atom_weights"), py::arg("offsets"), py::arg("neighbors"),
          py::arg("vectors"), py::arg("distances"), py::arg("dE_dG"), py::arg("n_threads") = 1);
    m.def("supported_architectures", &supported_architectures);
    m.def("default_architecture", &default_architecture);
    m.def("exp", &py_exp);
    m.def("cutoff", &py_cutoff, py::arg("type"), py::arg("rc"), py::arg("alpha"), py::arg("r"));
    m.def("activation", &py_activation, py::arg("type"), py::arg("x"));
    m.attr("SF_TABLE_COLUMNS") = SF_TABLE_COLUMNS;
#ifdef _OPENMP
    m.attr("openmp") = true;
#else
    m.attr("openmp") = false;
#endif
}
