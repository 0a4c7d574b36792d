// pair_style potforge: potforge's 2G high-dimensional neural network potentials (and n2p2
// models, converted by potforge's exporter) inside LAMMPS, loaded as a plugin
// (`plugin load potforge_lammps.so`). The energies, forces and virials come from the same
// compiled kernels as potforge's Python predictor (../hdnnp.hpp through ../kernels.hpp): one
// source of truth, with this file only moving LAMMPS' atoms and neighbour lists in and the
// results out.
//
//   pair_style potforge [extrapolation warn|stop|ignore] [max_warnings N] [threads N]
//   pair_coeff * * MODEL El1 El2 ...      (MODEL: the file potforge export --format lammps
//                                          writes, or the directory holding it; one element or
//                                          NULL per atom type)
//
// Centre atoms are the local atoms; their neighbours (full list) include ghost atoms, whose
// forces go back to their owners by LAMMPS' reverse communication (newton on) or by this
// style's own (newton off). The global virial is -sum over pairs of d (x) dE/dd (no f.r
// sum), the per-atom virial gives each centre the pairs of its own energy. Units metal or real.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "force.h"
#include "lammps.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "pair.h"
#include "update.h"
#include "utils.h"

#include "../arch_select.hpp"
#include "model_file.hpp"

#ifndef PF_LAMMPS_NUM_VER
#define PF_LAMMPS_NUM_VER 0
#endif

namespace LAMMPS_NS {

class PairPotforge : public Pair {
public:
    explicit PairPotforge(LAMMPS* lmp) : Pair(lmp) {
        single_enable = 0;
        restartinfo = 0;
        one_coeff = 1;
        manybody_flag = 1;
        no_virial_fdotr_compute = 1;
        centroidstressflag = CENTROID_NOTAVAIL;
        comm_reverse = 3;
        comm_reverse_off = 3;
        nextra = 4;
        pvector = new double[nextra]();
    }
    ~PairPotforge() override {
        if (total_warnings_ > 0 && comm->me == 0)
            utils::logmesg(lmp, "pair potforge: {} extrapolation warnings on this rank over the run\n",
                           total_warnings_);
        delete[] pvector;
        pvector = nullptr;
        if (allocated) {
            memory->destroy(setflag);
            memory->destroy(cutsq);
        }
    }

    void settings(int narg, char** arg) override {
        policy_ = WARN;   // a repeated pair_style command starts from the defaults
        max_warnings_ = 10;
        threads_ = 1;
        for (int k = 0; k < narg; ++k) {
            const std::string key = arg[k];
            if (k + 1 >= narg) error->all(FLERR, "pair_style potforge: {} needs a value", key);
            const std::string value = arg[++k];
            if (key == "extrapolation") {
                if (value == "warn") policy_ = WARN;
                else if (value == "stop") policy_ = STOP;
                else if (value == "ignore") policy_ = IGNORE;
                else error->all(FLERR, "pair_style potforge: extrapolation expects warn, stop or ignore, got {}",
                                value);
            } else if (key == "max_warnings") {
                max_warnings_ = utils::inumeric(FLERR, value, false, lmp);
            } else if (key == "threads") {
                threads_ = utils::inumeric(FLERR, value, false, lmp);
                if (threads_ < 1) error->all(FLERR, "pair_style potforge: threads expects >= 1, got {}", value);
            } else {
                error->all(FLERR, "pair_style potforge: unknown keyword {} (expected extrapolation, "
                           "max_warnings or threads)", key);
            }
        }
    }

    void coeff(int narg, char** arg) override {
        const int ntypes = atom->ntypes;
        if (narg != 3 + ntypes)
            error->all(FLERR, "pair_coeff * * MODEL El1 ... El{}: expected one element (or NULL) per "
                       "atom type, got {} arguments", ntypes, narg);
        if (std::strcmp(arg[0], "*") != 0 || std::strcmp(arg[1], "*") != 0)
            error->all(FLERR, "pair_coeff for potforge must start with * *");
        std::string path = arg[2];
        if (platform::path_is_directory(path)) path = platform::path_join(path, "potforge.lammps");
        try {
            model_ = potforge::read_lammps_model(path);
            kernel_ = potforge::build_kernel(model_.kernel, "");
        } catch (std::exception& err) {
            error->all(FLERR, "pair_coeff potforge: {}", err.what());
        }
        if (model_.cutoff < kernel_->cutoff() * (1.0 - 1e-6))   // float32 kernels round the cutoff
            error->all(FLERR, "pair_coeff potforge: {}: cutoff {} is smaller than the symmetry functions' "
                       "{} (the neighbour lists would miss pairs)", path, model_.cutoff, kernel_->cutoff());
        map_.assign(ntypes + 1, -1);
        for (int t = 1; t <= ntypes; ++t) {
            const std::string el = arg[2 + t];
            if (el == "NULL") continue;
            auto it = std::find(model_.species.begin(), model_.species.end(), el);
            if (it == model_.species.end())
                error->all(FLERR, "pair_coeff potforge: element {} of atom type {} is not in the model "
                           "(it has {})", el, t, species_list());
            map_[t] = static_cast<int>(it - model_.species.begin());
        }
        if (!allocated) {
            allocated = 1;
            memory->create(setflag, ntypes + 1, ntypes + 1, "pair:setflag");
            memory->create(cutsq, ntypes + 1, ntypes + 1, "pair:cutsq");
        }
        for (int i = 1; i <= ntypes; ++i)
            for (int j = 1; j <= ntypes; ++j) setflag[i][j] = (map_[i] >= 0 && map_[j] >= 0) ? 1 : 0;
        int any = 0;
        for (int t = 1; t <= ntypes; ++t) any |= map_[t] >= 0;
        if (!any) error->all(FLERR, "pair_coeff potforge: every atom type is NULL");
    }

    void init_style() override {
        if (!kernel_) error->all(FLERR, "pair potforge: pair_coeff * * MODEL ... is missing");
        const std::string units = update->unit_style;
        if (units == "metal") energy_factor_ = 1.0;
        else if (units == "real")
            energy_factor_ = utils::get_conversion_factor(utils::ENERGY, utils::METAL2REAL);
        else error->all(FLERR, "pair potforge: units {} are not supported (metal or real)", units);
        if (atom->tag_enable == 0) error->all(FLERR, "pair potforge: needs atom IDs");
        neighbor->add_request(this, NeighConst::REQ_FULL);
    }

    double init_one(int i, int j) override {
        if (setflag[i][j] == 0) return 0.0;  // a NULL type: no interaction from this style
        return model_.cutoff;
    }

    void compute(int eflag, int vflag) override {
        ev_init(eflag, vflag);
        const int nlocal = atom->nlocal, nall = atom->nlocal + atom->nghost;
        double** x = atom->x;
        double** f = atom->f;
        const int* type = atom->type;
        const int inum = list->inum;
        const int* ilist = list->ilist;
        const int* numneigh = list->numneigh;
        int** firstneigh = list->firstneigh;

        species_.resize(nall);
        weights_.resize(nall);
        for (int j = 0; j < nall; ++j) {
            const int e = map_[type[j]];
            species_[j] = e < 0 ? 0 : e;
            weights_[j] = e < 0 ? 0.0 : model_.atomic_numbers[e];
        }
        // centres: the local atoms of mapped types, in the order of the list
        centres_.clear();
        offsets_.assign(1, 0);
        neighbors_.clear();
        vectors_.clear();
        distances_.clear();
        const double rc = model_.cutoff, min_d = model_.min_distance;
        for (int ii = 0; ii < inum; ++ii) {
            const int i = ilist[ii];
            if (map_[type[i]] < 0) continue;
            const int* jlist = firstneigh[i];
            for (int jj = 0; jj < numneigh[i]; ++jj) {
                const int j = jlist[jj] & NEIGHMASK;
                if (map_[type[j]] < 0) continue;
                const double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
                const double r = std::sqrt(dx * dx + dy * dy + dz * dz);
                if (!(r < rc)) continue;
                if (r < min_d)
                    error->one(FLERR, "pair potforge: atoms {} and {} are {:.4g} Å apart, closer than the "
                               "model's {} Å", atom->tag[i], atom->tag[j], r, min_d);
                neighbors_.push_back(j);
                vectors_.insert(vectors_.end(), {dx, dy, dz});
                distances_.push_back(r);
            }
            centres_.push_back(i);
            offsets_.push_back(static_cast<int64_t>(neighbors_.size()));
        }
        // the kernel's centres are 0..n-1: put the centres first, by relabelling atoms
        const int64_t n = static_cast<int64_t>(centres_.size());
        relabel(nall);
        const potforge::NeighborView view{offsets_.data(), neighbors_.data(), vectors_.data(),
                                          distances_.data()};
        potforge::HDNNPOutput out;
        try {
            kernel_->hdnnp_evaluate(n, nall, kspecies_.data(), kweights_.data(), view,
                                    model_.output_scale, true, vflag_atom != 0,
                                    model_.extrapolation_tolerance, threads_, out);
        } catch (std::exception& err) {
            error->one(FLERR, "pair potforge: {}", err.what());
        }
        const double s = energy_factor_;
        // forces: centres and neighbours in kernel order -> LAMMPS atoms
        const bool newton = force->newton_pair != 0;
        if (!newton) ghost_forces_.assign(3 * static_cast<size_t>(atom->nghost), 0.0);
        for (int64_t k = 0; k < nall; ++k) {
            const int a = order_[k];
            const double* fk = &out.forces[3 * k];
            if (a < nlocal || newton) {
                f[a][0] += s * fk[0];
                f[a][1] += s * fk[1];
                f[a][2] += s * fk[2];
            } else {
                double* g = &ghost_forces_[3 * static_cast<size_t>(a - nlocal)];
                g[0] += s * fk[0];
                g[1] += s * fk[1];
                g[2] += s * fk[2];
            }
        }
        if (!newton) comm->reverse_comm(this);
        int64_t warnings = 0, atoms_out = 0;
        for (int64_t k = 0; k < n; ++k) {
            const int i = centres_[k];
            const double e = s * (out.atomic[k] + model_.energy_offsets[map_[type[i]]]);
            if (eflag_global) eng_vdwl += e;
            if (eflag_atom) eatom[i] += e;
            if (out.extrapolations[k] > 0) {
                warnings += out.extrapolations[k];
                ++atoms_out;
                report_extrapolation(i, out.extrapolations[k]);
            }
            if (vflag_atom) {
                const double* w = &out.atom_virial[9 * k];
                vatom[i][0] -= s * w[0];
                vatom[i][1] -= s * w[4];
                vatom[i][2] -= s * w[8];
                vatom[i][3] -= s * 0.5 * (w[1] + w[3]);
                vatom[i][4] -= s * 0.5 * (w[2] + w[6]);
                vatom[i][5] -= s * 0.5 * (w[5] + w[7]);
            }
        }
        if (vflag_global) {
            const auto& w = out.strain_derivative;
            virial[0] -= s * w[0];
            virial[1] -= s * w[4];
            virial[2] -= s * w[8];
            virial[3] -= s * 0.5 * (w[1] + w[3]);
            virial[4] -= s * 0.5 * (w[2] + w[6]);
            virial[5] -= s * 0.5 * (w[5] + w[7]);
        }
        total_warnings_ += warnings;
        pvector[0] = static_cast<double>(atoms_out);
        pvector[1] = static_cast<double>(warnings);
        pvector[2] = static_cast<double>(total_warnings_);
        pvector[3] = static_cast<double>(n);
    }

    int pack_reverse_comm(int n, int first, double* buf) override {
        const int nlocal = atom->nlocal;
        int m = 0;
        for (int a = first; a < first + n; ++a) {
            const double* g = &ghost_forces_[3 * static_cast<size_t>(a - nlocal)];
            buf[m++] = g[0];
            buf[m++] = g[1];
            buf[m++] = g[2];
        }
        return m;
    }

    // The reverse communication runs in several hops (z, y, x swaps): a hop may deliver to a
    // ghost atom that a later hop sends on, so ghosts accumulate in ghost_forces_ (read by
    // pack_reverse_comm), owners in f.
    void unpack_reverse_comm(int n, int* list_, double* buf) override {
        double** f = atom->f;
        const int nlocal = atom->nlocal;
        int m = 0;
        for (int k = 0; k < n; ++k) {
            const int a = list_[k];
            double* t = a < nlocal ? f[a] : &ghost_forces_[3 * static_cast<size_t>(a - nlocal)];
            t[0] += buf[m++];
            t[1] += buf[m++];
            t[2] += buf[m++];
        }
    }

    void* extract(const char* name, int& dim) override {
        dim = 0;
        if (std::strcmp(name, "cutoff") == 0) return &model_.cutoff;
        return nullptr;
    }

private:
    enum Policy { WARN, STOP, IGNORE };

    // kernel index k -> LAMMPS atom order_[k]: the centres first (0..n-1), then every other
    // atom; the neighbour indices are rewritten to kernel indices
    void relabel(int nall) {
        order_.clear();
        position_.assign(nall, -1);
        for (int i : centres_) {
            position_[i] = static_cast<int>(order_.size());
            order_.push_back(i);
        }
        for (int a = 0; a < nall; ++a)
            if (position_[a] < 0) {
                position_[a] = static_cast<int>(order_.size());
                order_.push_back(a);
            }
        for (int64_t& j : neighbors_) j = position_[j];
        kspecies_.resize(nall);
        kweights_.resize(nall);
        for (int k = 0; k < nall; ++k) {
            kspecies_[k] = species_[order_[k]];
            kweights_[k] = weights_[order_[k]];
        }
    }

    std::string species_list() const {
        std::string out;
        for (const auto& s : model_.species) out += (out.empty() ? "" : " ") + s;
        return out;
    }

    void report_extrapolation(int i, int count) {
        if (policy_ == IGNORE) return;
        if (policy_ == STOP)
            error->one(FLERR, "pair potforge: atom {} extrapolates ({} symmetry functions outside the "
                       "training range) at step {}", atom->tag[i], count, update->ntimestep);
        if (printed_ < max_warnings_) {
            ++printed_;
            error->warning(FLERR, "pair potforge: atom {} extrapolates ({} symmetry functions outside "
                           "the training range) at step {}{}", atom->tag[i], count, update->ntimestep,
                           printed_ == max_warnings_ ? " (further warnings on this rank are counted, "
                           "not printed: compute pair potforge)" : "");
        }
    }

    potforge::LammpsModel model_;
    std::shared_ptr<potforge::Kernel> kernel_;
    std::vector<int> map_;
    double energy_factor_ = 1.0;
    Policy policy_ = WARN;
    int max_warnings_ = 10, printed_ = 0, threads_ = 1;
    bigint total_warnings_ = 0;
    std::vector<int32_t> species_, kspecies_;
    std::vector<double> weights_, kweights_, vectors_, distances_, ghost_forces_;
    std::vector<int> centres_, order_, position_;
    std::vector<int64_t> offsets_, neighbors_;
};

}  // namespace LAMMPS_NS

// -- plugin registration (the interface of LAMMPS' PLUGIN package, lammpsplugin.h) -------------
extern "C" {
typedef void*(pf_factory1)(void*);
typedef void*(pf_factory2)(void*, int, char**);
typedef struct {
    const char* version;
    const char* style;
    const char* name;
    const char* info;
    const char* author;
    union {
        pf_factory1* v1;
        pf_factory2* v2;
    } creator;
    void* handle;
} pf_plugin_t;
typedef void (*pf_regfunc)(pf_plugin_t*, void*);
}

static LAMMPS_NS::Pair* potforge_creator(LAMMPS_NS::LAMMPS* lmp) {
    return new LAMMPS_NS::PairPotforge(lmp);
}

extern "C" __attribute__((visibility("default"))) void lammpsplugin_init(void* lmp, void* handle,
                                                                         void* regfunc) {
    auto* l = static_cast<LAMMPS_NS::LAMMPS*>(lmp);
    if (PF_LAMMPS_NUM_VER != 0 && l->num_ver != PF_LAMMPS_NUM_VER) {
        l->error->warning(FLERR, "potforge plugin: built for LAMMPS {}, loaded into {} ({}); "
                          "rebuild it with: potforge lammps plugin --force", PF_LAMMPS_NUM_VER,
                          l->num_ver, l->version);
    }
    pf_plugin_t plugin;
    plugin.version = l->version;
    plugin.style = "pair";
    plugin.name = "potforge";
    plugin.info = "potforge 2G HDNNP pair style (potforge's compiled kernels)";
    plugin.author = "potforge developers";
    plugin.creator.v1 = reinterpret_cast<pf_factory1*>(&potforge_creator);
    plugin.handle = handle;
    (*reinterpret_cast<pf_regfunc>(regfunc))(&plugin, lmp);
}
