// kcr restart FILE: this process becomes the checkpointed one.
#include <fmt/format.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kcr/image.h>
#include <kcr/restart.h>
#include <kcr/tree.h>
#include "catalog_record.h"
#include "cli_config.h"
#include "commands.h"
#include "progress.h"

namespace kcr::cli {

namespace {

struct RestartArgs {
  std::string image;
  bool rollback_files = false;
  bool no_verify = false;
  bool no_catalog = false;
  bool no_prefill = false;
  bool quiet = false;
  bool timings = false;
};

int RunRestart(const RestartArgs& a) {
  catalog::RestoreRecord record;
  if (!a.no_catalog) {
    const config::Config* config = nullptr;
    if (Status st = LoadedConfig(&config); !st.ok()) {
      fmt::print(stderr, "kcr restart: {}\n", st.message());
      return 1;
    }
    const std::string& catalog_path = config->catalog_path;
    if (::geteuid() == 0 || ::access(catalog_path.c_str(), W_OK) == 0) {
      record = RecordRestore(catalog_path, a.image);
    }
  }
  RestartOptions options;
  const bool tree = IsTreeImage(a.image);
  options.rollback_files = a.rollback_files;
  options.skip_verify = a.no_verify;
  options.prefill = !a.no_prefill;
  if (a.timings) {
    options.phase_done = [](const char* phase, double ms) {
      fmt::print(stderr, "kcr restart: {:<28} {:9.1f} ms\n", phase, ms);
    };
  }
  // The bar draws only while the image is verified and memory filled;
  // Restart() drops the callback before the program takes over stderr.
  uint64_t total = 0;
  bool in_namespaces = false;
  {
    std::unique_ptr<Image> image;
    if (Image::Open(a.image, &image).ok()) {
      total = image->page_bytes();
      in_namespaces = NeedsNamespaces(*image);
      if (!in_namespaces && SavedOnAnotherBoot(*image) && !::getenv("KCR_RESTART_IN_NAMESPACE")) {
        fmt::print(stderr,
                   "kcr restart: the program was saved on another boot or node, and this user may "
                   "not make the namespaces its clocks would continue in: its CLOCK_MONOTONIC "
                   "and CLOCK_BOOTTIME jump (fix: allow unprivileged user namespaces, or restore "
                   "as root)\n");
      }
    }
  }
  auto bar =
      std::make_shared<ProgressBar>("restore", a.quiet || !::isatty(STDERR_FILENO) ? 0 : total);
  if (bar->enabled()) {
    options.verify_progress = [bar](uint64_t d, uint64_t t) { bar->Update(d, t); };
    options.verify_done = [bar] { bar->Finish(); };
  }
  // A multi-threaded program needs its own thread ids, and one saved on
  // another boot its own clocks: it is restored in namespaces of its own,
  // and this process waits and ends as it does.
  // (Inside that namespace the restorer is this program again, in place.)
  if (tree || (in_namespaces && !::getenv("KCR_RESTART_IN_NAMESPACE"))) {
    int status = 0;
    Status st =
        tree ? RestartTree(a.image, options, &status) : RestartWithIds(a.image, options, &status);
    if (!st.ok()) {
      record.Failed(st.message());
      fmt::print(stderr, "kcr restart: {}\n", st.message());
      return 1;
    }
    if (WIFSIGNALED(status)) {
      ::signal(WTERMSIG(status), SIG_DFL);
      ::raise(WTERMSIG(status));
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  }
  Status st = Restart(a.image, options);
  // Only reached when the restart did not happen.
  record.Failed(st.message());
  fmt::print(stderr, "kcr restart: {}\n", st.message());
  return 1;
}

}  // namespace

void RegisterRestart(CLI::App& app) {
  auto args = std::make_shared<RestartArgs>();
  auto* cmd = app.add_subcommand(
      "restart", "become the process saved in an image and continue it (does not return)");
  cmd->add_option("image", args->image, "image file, or tree image (directory)")
      ->required()
      ->check(CLI::ExistingPath);
  cmd->add_flag("--rollback-files", args->rollback_files,
                "truncate files the program wrote back to their size at the checkpoint");
  cmd->add_flag("--no-verify", args->no_verify, "skip re-reading the memory checksums");
  cmd->add_flag("--no-catalog", args->no_catalog, "do not record the restore in the catalog");
  cmd->add_flag("--no-prefill", args->no_prefill,
                "let the module fill all memory after the point of no return, on one core "
                "(slower; for diagnosis)");
  cmd->add_flag("-q,--quiet", args->quiet, "no progress bar");
  cmd->add_flag("--timings", args->timings,
                "print how long each phase took before the program continues");
  cmd->callback([args] { throw Exit{RunRestart(*args)}; });
}

}  // namespace kcr::cli
