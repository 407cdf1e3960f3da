// What a guest is told about its clock on its kernel command line.
#pragma once

#include <cstdint>
#include <string>

#include "vmm/cluster/guest_description.h"

namespace heca::vmm::node {

// The TSC rate the guest is told: the host's, times the description's time_dilation. With a
// dilation of N the guest's time passes N times slower than the hosts' (see
// GuestDescription::time_dilation).
[[nodiscard]] std::uint64_t announced_tsc_khz(const cluster::GuestDescription& description,
                                              std::uint64_t host_tsc_khz);

// The words appended to the guest's command line (each with a leading space), or "":
//  - the test guest (test_guest_abi): " tsc_khz=K", which its timeouts and IPI pacing need;
//  - a Linux guest whose vCPUs span nodes or whose time is dilated: " tsc_early_khz=K
//    tsc=reliable". Without kvmclock (hidden across nodes, see cpuid.cc) Linux calibrates
//    the TSC against the PIT or PM timer, which fails when those exits are slow, and a dilated
//    rate must not be "refined" back. tsc=reliable skips the boot-time TSC sync test (every
//    CPU spinning on one shared line; heca aligns the TSCs itself) and the clocksource
//    watchdog, which compares the TSC with the undilated HPET and PM timer.
[[nodiscard]] std::string clock_cmdline(const cluster::GuestDescription& description,
                                        bool test_guest_abi, bool vcpus_span_nodes,
                                        std::uint64_t host_tsc_khz);

}  // namespace heca::vmm::node
