#include "cli_config.h"

#include <optional>

#include "commands.h"

namespace kcr::cli {

const config::Config& loaded_config() {
  // Not a function-local static initialised from load(): a ConfigError would
  // then be thrown again on every call with a half-built static.
  static std::optional<config::Config> config;
  if (!config) {
    config = config::load(global_options().config_path);
  }
  return *config;
}

}  // namespace kcr::cli
