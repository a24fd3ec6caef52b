// The configuration every kcr subcommand sees: kcr.yaml as named by
// --config, $KCR_CONFIG or the default path (docs/configuration.md).
#pragma once

#include <kcr/config/config.h>

namespace kcr::cli {

// Loaded on first use and kept. Throws config::ConfigError.
const config::Config& loaded_config();

}  // namespace kcr::cli
