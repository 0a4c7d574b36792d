// Reader of the model file of the LAMMPS pair style (pair_potforge.cpp): a 2G HDNNP as the
// compiled kernels take it (kernels.hpp, KernelDescription), written by potforge's exporter
// (potforge/export/lammps.py, which documents the format) in text with every number in the
// shortest form that reads back to the same double. Plain C++, no LAMMPS: errors are
// std::runtime_error naming the file, line and what was expected.
#pragma once

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "../kernels.hpp"

namespace potforge {

struct LammpsModel {
    std::vector<std::string> species;
    std::vector<double> atomic_numbers;   // the weights of weighted symmetry functions
    std::vector<double> energy_offsets;   // eV per atom of each species (mean + atom energy)
    double cutoff = 0.0;                  // Å
    double output_scale = 1.0;            // eV per network output unit
    double min_distance = 0.0;            // Å: closer atoms are refused
    double extrapolation_tolerance = 0.0; // of the functions' training range
    bool single_precision = false;
    KernelDescription kernel;
};

class ModelTokens {
public:
    explicit ModelTokens(const std::string& path) : path_(path) {
        std::ifstream in(path);
        if (!in) throw std::runtime_error("cannot open model file " + path);
        std::string line;
        int number = 0;
        while (std::getline(in, line)) {
            ++number;
            const size_t hash = line.find('#');
            if (hash != std::string::npos) line.erase(hash);
            std::istringstream words(line);
            std::string w;
            while (words >> w) {
                tokens_.push_back(w);
                lines_.push_back(number);
            }
        }
    }
    bool done() const { return pos_ >= tokens_.size(); }
    std::string where() const {
        const int line = pos_ < lines_.size() ? lines_[pos_] : (lines_.empty() ? 0 : lines_.back());
        return path_ + ":" + std::to_string(line);
    }
    [[noreturn]] void fail(const std::string& what) const {
        throw std::runtime_error(where() + ": " + what);
    }
    std::string word(const char* what) {
        if (done()) fail(std::string("file ends where ") + what + " was expected");
        return tokens_[pos_++];
    }
    void expect(const std::string& keyword) {
        if (done()) fail("file ends where '" + keyword + "' was expected");
        if (tokens_[pos_] != keyword) fail("expected '" + keyword + "', got '" + tokens_[pos_] + "'");
        ++pos_;
    }
    double number(const char* what) {
        if (done()) fail(std::string("file ends where ") + what + " was expected");
        const std::string& w = tokens_[pos_];
        char* end = nullptr;
        errno = 0;
        const double v = std::strtod(w.c_str(), &end);
        // ERANGE with a small result is underflow (subnormals, which Python writes): accepted
        const bool overflow = errno == ERANGE && std::fabs(v) > 1.0;
        if (end == w.c_str() || *end != '\0' || overflow || !std::isfinite(v))
            fail(std::string("expected ") + what + " (a finite number), got '" + w + "'");
        ++pos_;
        return v;
    }
    long integer(const char* what, long lo, long hi) {
        if (done()) fail(std::string("file ends where ") + what + " was expected");
        const std::string& w = tokens_[pos_];
        char* end = nullptr;
        errno = 0;
        const long v = std::strtol(w.c_str(), &end, 10);
        if (end == w.c_str() || *end != '\0' || errno == ERANGE || v < lo || v > hi)
            fail(std::string("expected ") + what + " (an integer in [" + std::to_string(lo) + ", " +
                 std::to_string(hi) + "]), got '" + w + "'");
        ++pos_;
        return v;
    }
    // a count the rest of the file cannot hold is refused before anything is allocated
    void expect_count(size_t n, const char* what) const {
        if (n > tokens_.size() - std::min(pos_, tokens_.size()))
            fail(std::string("the file ends before its ") + std::to_string(n) + " " + what + " (a count "
                 "larger than the file holds)");
    }
    std::vector<double> numbers(size_t n, const char* what) {
        expect_count(n, what);
        std::vector<double> v(n);
        for (size_t k = 0; k < n; ++k) v[k] = number(what);
        return v;
    }

private:
    std::string path_;
    std::vector<std::string> tokens_;
    std::vector<int> lines_;
    size_t pos_ = 0;
};

// The species block of one element, in the order of the header's species.
inline void read_element(ModelTokens& t, LammpsModel& m, int e) {
    t.expect("element");
    const std::string name = t.word("an element name");
    if (name != m.species[e]) t.fail("expected element " + m.species[e] + ", got " + name);
    t.expect("symmetry_functions");
    const long n_sf = t.integer("the number of symmetry functions", 0, 100000);
    t.expect_count(static_cast<size_t>(n_sf) * 16, "symmetry-function table entries");
    std::vector<std::array<double, 16>> rows(n_sf);
    for (auto& row : rows)
        for (double& x : row) x = t.number("a symmetry-function table entry");
    m.kernel.sf_rows.push_back(std::move(rows));
    ScalingDescription sc;
    t.expect("scaling_factor");
    sc.factor = t.numbers(n_sf, "a scaling factor");
    t.expect("scaling_offset");
    sc.offset = t.numbers(n_sf, "a scaling offset");
    t.expect("training_min");
    sc.gmin = t.numbers(n_sf, "a training minimum");
    t.expect("training_max");
    sc.gmax = t.numbers(n_sf, "a training maximum");
    m.kernel.scaling.push_back(std::move(sc));
    t.expect("network");
    NetworkDescription net;
    const long n_layers = t.integer("the number of layers", 1, 1000);
    net.normalize = t.integer("normalize (0 or 1)", 0, 1) == 1;
    for (long l = 0; l < n_layers; ++l) {
        t.expect("layer");
        LayerDescription ld;
        ld.n_in = static_cast<int>(t.integer("the layer's inputs", 1, 1000000));
        ld.n_out = static_cast<int>(t.integer("the layer's outputs", 1, 1000000));
        ld.activation = static_cast<int>(t.integer("an activation code", 0, 1000));
        ld.W = t.numbers(static_cast<size_t>(ld.n_in) * ld.n_out, "a weight");
        ld.b = t.numbers(static_cast<size_t>(ld.n_out), "a bias");
        net.layers.push_back(std::move(ld));
    }
    m.kernel.networks.push_back(std::move(net));
}

inline LammpsModel read_lammps_model(const std::string& path) {
    ModelTokens t(path);
    LammpsModel m;
    t.expect("potforge-lammps-model");
    const long version = t.integer("the format version", 1, 1000000);
    if (version != 1)
        t.fail("format version " + std::to_string(version) + " is newer than this pair style (1); "
               "rebuild the plugin with the potforge that wrote the file (potforge lammps plugin)");
    t.expect("species");
    const long n = t.integer("the number of species", 1, 1000);
    for (long e = 0; e < n; ++e) {
        const std::string name = t.word("an element name");
        for (const auto& other : m.species)
            if (other == name) t.fail("species " + name + " is listed twice");
        m.species.push_back(name);
    }
    t.expect("atomic_numbers");
    m.atomic_numbers = t.numbers(n, "an atomic number");
    t.expect("energy_offsets");
    m.energy_offsets = t.numbers(n, "an energy offset (eV)");
    t.expect("cutoff");
    m.cutoff = t.number("the cutoff (Å)");
    if (!(m.cutoff > 0)) t.fail("the cutoff must be positive");
    t.expect("output_scale");
    m.output_scale = t.number("the output scale (eV)");
    t.expect("min_distance");
    m.min_distance = t.number("the smallest allowed distance (Å)");
    if (m.min_distance < 0) t.fail("the smallest allowed distance must be >= 0");
    t.expect("extrapolation_tolerance");
    m.extrapolation_tolerance = t.number("the extrapolation tolerance");
    if (m.extrapolation_tolerance < 0) t.fail("the extrapolation tolerance must be >= 0");
    t.expect("dtype");
    const std::string dtype = t.word("float64 or float32");
    if (dtype != "float64" && dtype != "float32") t.fail("expected float64 or float32, got " + dtype);
    m.single_precision = dtype == "float32";
    m.kernel.n_species = static_cast<int>(n);
    m.kernel.single_precision = m.single_precision;
    for (int e = 0; e < n; ++e) read_element(t, m, e);
    t.expect("end");
    if (!t.done()) t.fail("unexpected text after 'end'");
    return m;
}

}  // namespace potforge
