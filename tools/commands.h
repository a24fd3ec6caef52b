// The kcr command line: one register function per top-level subcommand.
// Each lives in its own file (cmd_<name>.cpp) and adds itself to the app.
#pragma once

#include <CLI/CLI.hpp>

namespace kcr::cli {

// Options shared by every subcommand (set before the subcommand runs).
struct GlobalOptions {
  std::string config_path;  // --config, else $KCR_CONFIG, else /etc/kcr/kcr.yaml
  bool verbose = false;
};

GlobalOptions& global_options();

void register_check(CLI::App& app);
void register_checkpoint(CLI::App& app);
void register_restart(CLI::App& app);
void register_inspect(CLI::App& app);
void register_catalog(CLI::App& app);

// Thrown by a subcommand to end kcr with a message and an exit status.
struct Exit {
  int status;
};

}  // namespace kcr::cli
