#include "common.hpp"
#include "scatclust/errors.hpp"
#include "scatclust/filter_bank.hpp"

namespace sc = scatclust;

// Copies a std::vector into a fresh numpy array that owns its memory.
nb::ndarray<nb::numpy, double> vec_to_numpy(const std::vector<double>& v, std::vector<size_t> shape) {
    auto* data = new std::vector<double>(v);
    nb::capsule owner(data, [](void* p) noexcept { delete static_cast<std::vector<double>*>(p); });
    return nb::ndarray<nb::numpy, double>(data->data(), shape.size(), shape.data(), owner);
}

static nb::dict info_dict(const std::vector<sc::FilterInfo>& v) {
    std::vector<double> xi, sigma;
    std::vector<int> j;
    for (auto& f : v) { xi.push_back(f.xi); sigma.push_back(f.sigma); j.push_back(f.j); }
    nb::dict d;
    d["xi"] = xi;
    d["sigma"] = sigma;
    d["j"] = j;
    return d;
}

void bind_filter_bank(nb::module_& m) {
    m.def("morlet_1d", [](int N, double xi, double sigma) {
        std::vector<double> out(N > 0 ? N : 0);
        if (N < 1) sc::fail("N=", N, " must be >= 1");
        sc::morlet_1d(N, xi, sigma, out.data());
        return vec_to_numpy(out, {static_cast<size_t>(N)});
    }, nb::arg("N"), nb::arg("xi"), nb::arg("sigma"));
    m.def("temporal_support", [](carray<double, nb::ndim<1>> h_f, double criterion) {
        return sc::temporal_support(h_f.data(), static_cast<int>(h_f.shape(0)), criterion);
    }, nb::arg("h_f").noconvert(), nb::arg("criterion") = 1e-3);

    nb::class_<sc::MorletFilterBank>(m, "MorletFilterBankCore")
        .def(nb::init<int, int, int, int, double, const std::string&, double, double, double>(),
             nb::arg("N"), nb::arg("J"), nb::arg("Q1"), nb::arg("Q2"), nb::arg("T"), nb::arg("kind"),
             nb::arg("r_psi"), nb::arg("sigma0"), nb::arg("alpha"), nb::call_guard<nb::gil_scoped_release>())
        .def_ro("N", &sc::MorletFilterBank::N)
        .def_ro("J", &sc::MorletFilterBank::J)
        .def_ro("Q1", &sc::MorletFilterBank::Q1)
        .def_ro("Q2", &sc::MorletFilterBank::Q2)
        .def_ro("T", &sc::MorletFilterBank::T)
        .def_ro("log2_T", &sc::MorletFilterBank::log2_T)
        .def_ro("kind", &sc::MorletFilterBank::kind)
        .def_ro("N_padded", &sc::MorletFilterBank::N_padded)
        .def_ro("pad_left", &sc::MorletFilterBank::pad_left)
        .def_ro("pad_right", &sc::MorletFilterBank::pad_right)
        .def_ro("ind_start", &sc::MorletFilterBank::ind_start)
        .def_ro("ind_end", &sc::MorletFilterBank::ind_end)
        .def_prop_ro("psi1_info", [](const sc::MorletFilterBank& b) { return info_dict(b.psi1); })
        .def_prop_ro("psi2_info", [](const sc::MorletFilterBank& b) { return info_dict(b.psi2); })
        .def_prop_ro("phi_info", [](const sc::MorletFilterBank& b) { return info_dict({b.phi}); })
        .def_prop_ro("psi1_f", [](const sc::MorletFilterBank& b) {
            return vec_to_numpy(b.psi1_f, {b.psi1.size(), static_cast<size_t>(b.N_padded)}); }, nb::rv_policy::move)
        .def_prop_ro("psi2_f", [](const sc::MorletFilterBank& b) {
            return vec_to_numpy(b.psi2_f, {b.psi2.size(), static_cast<size_t>(b.N_padded)}); }, nb::rv_policy::move)
        .def_prop_ro("phi_f", [](const sc::MorletFilterBank& b) {
            return vec_to_numpy(b.phi_f, {static_cast<size_t>(b.N_padded)}); }, nb::rv_policy::move);

    m.def("battle_lemarie_psi_hat", [](double w) { return sc::battle_lemarie_psi_hat(w); }, nb::arg("omega"));
    m.def("battle_lemarie_phi_hat", [](double w) { return sc::battle_lemarie_phi_hat(w); }, nb::arg("omega"));
    m.attr("BATTLE_LEMARIE_XI") = sc::kBattleLemarieXi;
    m.attr("BATTLE_LEMARIE_SIGMA") = sc::kBattleLemarieSigma;
    nb::class_<sc::SpectraFilterBank>(m, "SpectraFilterBankCore")
        .def(nb::init<int, int, const std::string&, const std::string&>(), nb::arg("N"), nb::arg("J"),
             nb::arg("wavelet"), nb::arg("padding"), nb::call_guard<nb::gil_scoped_release>())
        .def_ro("N", &sc::SpectraFilterBank::N)
        .def_ro("J", &sc::SpectraFilterBank::J)
        .def_ro("P", &sc::SpectraFilterBank::P)
        .def_ro("xi", &sc::SpectraFilterBank::xi)
        .def_ro("sigma", &sc::SpectraFilterBank::sigma)
        .def_ro("cut", &sc::SpectraFilterBank::cut)
        .def_ro("phi_cut", &sc::SpectraFilterBank::phi_cut)
        .def_prop_ro("psi_f", [](const sc::SpectraFilterBank& b) {
            return vec_to_numpy(b.psi_f, {static_cast<size_t>(b.J), static_cast<size_t>(b.P)}); }, nb::rv_policy::move)
        .def_prop_ro("phi_f", [](const sc::SpectraFilterBank& b) {
            return vec_to_numpy(b.phi_f, {static_cast<size_t>(b.P)}); }, nb::rv_policy::move);
}
