// kcr check: can kcr work on this machine? Says why not in one line.
#include <fmt/format.h>
#include <sys/utsname.h>

#include <kcr/device.h>
#include <kcr/xstate.h>
#include "commands.h"

namespace kcr::cli {

namespace {

uint64_t CpuXcr0() {
  uint32_t eax, ebx, ecx, edx;
  __asm__ volatile("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(1), "c"(0));
  if (!(ecx & (1U << 27)))
    return 0;  // no OSXSAVE
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t{hi} << 32) | lo;
}

int RunCheck() {
  struct utsname u;
  ::uname(&u);
  fmt::print("kernel:      {} {}\n", u.release, u.version);
  uint64_t xcr0 = CpuXcr0();
  fmt::print("cpu xsave:   {:#x} ({})\n", xcr0, XFeatureNames(xcr0));
  UniqueFd device;
  Status st = OpenDevice(&device);
  if (!st.ok()) {
    fmt::print("module:      not usable\n");
    fmt::print(stderr, "kcr check: {}\n", st.message());
    return 1;
  }
  kcr_version v{};
  st = QueryVersion(device.get(), &v);
  if (!st.ok()) {
    fmt::print(stderr, "kcr check: {}\n", st.message());
    return 1;
  }
  fmt::print("module:      loaded ({}), ABI {}, image format {}\n", KCR_DEVICE_PATH, v.abi_version,
             v.image_version);
  fmt::print("module sees: kernel {}, xstate {} bytes, xfeatures {:#x}\n", v.release, v.xstate_size,
             v.xfeatures);
  if (v.xfeatures != xcr0) {
    fmt::print(stderr, "kcr check: the module sees XCR0 {:#x} but this CPU reports {:#x}\n",
               v.xfeatures, xcr0);
    return 1;
  }
  fmt::print("kcr check: ok\n");
  return 0;
}

}  // namespace

void RegisterCheck(CLI::App& app) {
  auto* cmd = app.add_subcommand("check", "check that kcr can work here (module, ABI, CPU)");
  cmd->callback([] { throw Exit{RunCheck()}; });
}

}  // namespace kcr::cli
