// The configuration every kcr subcommand sees: kcr.yaml as named by
// --config, $KCR_CONFIG or the default path (docs/configuration.md).
#pragma once

#include <kcr/config/config.h>
#include <kcr/status.h>

namespace kcr::cli {

// Loaded on first use and kept: *config points at it. An error (the file's
// message) is returned again on every call.
Status LoadedConfig(const config::Config** config);

}  // namespace kcr::cli
