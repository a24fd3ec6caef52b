// The kcr command line: one Register function per top-level subcommand.
// Each lives in its own file (cmd_<name>.cpp) and adds itself to the app.
#pragma once

#include <CLI/CLI.hpp>

namespace kcr::cli {

// Options shared by every subcommand (set before the subcommand runs).
struct GlobalOptions {
  std::string config_path;  // --config, else $KCR_CONFIG, else /etc/kcr/kcr.yaml
  bool verbose = false;
};

GlobalOptions& Globals();

void RegisterCheck(CLI::App& app);
void RegisterCheckpoint(CLI::App& app);
void RegisterRestart(CLI::App& app);
void RegisterInspect(CLI::App& app);
void RegisterCatalog(CLI::App& app);

// Thrown by a subcommand to end kcr with a message and an exit status.
struct Exit {
  int status;
};

}  // namespace kcr::cli
