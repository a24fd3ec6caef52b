// kcr: the command line for kernel checkpoint/restart.
#include <cstdio>

#include "commands.h"

namespace kcr::cli {

GlobalOptions& Globals() {
  static GlobalOptions options;
  return options;
}

}  // namespace kcr::cli

int main(int argc, char** argv) {
  using namespace kcr::cli;
  CLI::App app{"kcr: kernel-level checkpoint/restart of Linux processes"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "kcr 0.1.0");
  app.add_option("--config", Globals().config_path,
                 "configuration file (default: $KCR_CONFIG or /etc/kcr/kcr.yaml)");
  app.add_flag("-v,--verbose", Globals().verbose, "say more about what happens");
  RegisterCheck(app);
  RegisterCheckpoint(app);
  RegisterRestart(app);
  RegisterInspect(app);
  RegisterCatalog(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const Exit& e) {
    return e.status;
  }
  return 0;
}
