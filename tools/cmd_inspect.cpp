// kcr inspect FILE [--json] and kcr verify FILE
#include <fmt/format.h>

#include <ctime>

#include <kcr/util/units.h>

#include <kcr/image.h>
#include <kcr/tree.h>
#include "commands.h"
#include "progress.h"

namespace kcr::cli {

namespace {

void PrintText(const Image& img) {
  const kcr_image_header& h = img.header();
  std::time_t secs = static_cast<std::time_t>(h.created_ns / 1000000000ULL);
  char when[64];
  std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %Z", std::localtime(&secs));
  fmt::print("image:     {} (format v{}, {})\n", img.path(), h.version,
             util::HumanBytes(h.image_bytes));
  fmt::print("process:   {} pid {} uid {} gid {}\n", h.comm, h.pid, h.uid, h.gid);
  fmt::print("taken:     {} on kernel {}\n", when, h.release);
  fmt::print("memory:    {} pages saved in {} chunks ({})\n", h.pages_saved, img.chunks().size(),
             util::HumanBytes(img.page_bytes()));
  fmt::print("cpu:       xstate {} bytes, xfeatures {:#x}\n", h.xstate_size, h.xfeatures);
  fmt::print("thread:    tid {} ip {:#x} sp {:#x}\n", img.thread().tid, img.thread().regs[16],
             img.thread().regs[19]);
  fmt::print("mappings:  {}\n", img.vmas().size());
  static const char* const kKinds[] = {"anon", "file", "shared-anon", "shared-file"};
  for (const VmaRecord& v : img.vmas()) {
    fmt::print(
        "  {:012x}-{:012x} {}{}{}{} {:<11} {}\n", v.vma.start, v.vma.end,
        (v.vma.vm_flags & KCR_VM_READ) ? 'r' : '-', (v.vma.vm_flags & KCR_VM_WRITE) ? 'w' : '-',
        (v.vma.vm_flags & KCR_VM_EXEC) ? 'x' : '-', (v.vma.vm_flags & KCR_VM_SHARED) ? 's' : 'p',
        v.vma.kind < 4 ? kKinds[v.vma.kind] : "?", v.path);
  }
  static const char* const kFdKinds[] = {"file", "null", "zero", "deleted", "inherit"};
  fmt::print("files:     {} (cwd {}, umask {:04o})\n", img.fds().size(), img.cwd(), img.fs().umask);
  for (const FdRecord& f : img.fds()) {
    fmt::print("  fd {:<3} {:<8} offset {:<10} {}\n", f.fd.fd,
               f.fd.kind < 5 ? kFdKinds[f.fd.kind] : "?", f.fd.pos, f.path);
  }
  fmt::print("signals:   {} pending, blocked {:#x}\n", img.pending().size(), img.thread().blocked);
}

int RunInspect(const std::string& path, bool json) {
  std::unique_ptr<Image> img;
  Status st = Image::Open(path, &img);
  if (!st.ok()) {
    fmt::print(stderr, "kcr inspect: {}\n", st.message());
    return 1;
  }
  if (json) {
    fmt::print("{}\n", img->DescribeJson());
  } else {
    PrintText(*img);
  }
  return 0;
}

int RunVerify(const std::string& path) {
  if (IsTreeImage(path)) {
    size_t processes = 0;
    Status st = VerifyTreeImage(path, &processes);
    if (!st.ok()) {
      fmt::print(stderr, "kcr verify: {}\n", st.message());
      return 1;
    }
    fmt::print("{}: ok (a tree of {} processes, all checksums hold)\n", path, processes);
    return 0;
  }
  std::unique_ptr<Image> img;
  Status st = Image::Open(path, &img);
  if (st.ok()) {
    ProgressBar bar("verify", img->page_bytes());
    st = img->VerifyPages([&bar](uint64_t d, uint64_t t) { bar.Update(d, t); });
  }
  if (!st.ok()) {
    fmt::print(stderr, "kcr verify: {}\n", st.message());
    return 1;
  }
  fmt::print("{}: ok ({} sections, {} memory chunks, all checksums hold)\n", path,
             img->header().nr_sections, img->chunks().size());
  return 0;
}

}  // namespace

void RegisterInspect(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto* inspect = app.add_subcommand("inspect", "describe an image (header, mappings, files)");
  inspect->add_option("image", *path, "image file")->required();
  inspect->add_flag("--json", *json, "machine-readable output");
  inspect->callback([path, json] { throw Exit{RunInspect(*path, *json)}; });

  auto vpath = std::make_shared<std::string>();
  auto* verify = app.add_subcommand("verify", "check every checksum of an image");
  verify->add_option("image", *vpath, "image file, or tree image (directory)")->required();
  verify->callback([vpath] { throw Exit{RunVerify(*vpath)}; });
}

}  // namespace kcr::cli
