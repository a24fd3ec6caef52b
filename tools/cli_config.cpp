#include "cli_config.h"

#include <optional>

#include <kcr/util/status_format.h>

#include "commands.h"

namespace kcr::cli {

Status LoadedConfig(const config::Config** config) {
  static std::optional<config::Config> loaded;
  if (!loaded) {
    config::Config c;
    KCR_RETURN_IF_ERROR(config::Load(Globals().config_path, &c));
    loaded = std::move(c);
  }
  *config = &*loaded;
  return Status::Ok();
}

}  // namespace kcr::cli
