#include "dirs.h"

#include <kcr/util/status_format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace kcr::spank {

Status MakeDirs(const std::string& path, mode_t mode) {
  std::string sofar;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    sofar = path.substr(0, pos);
    if (sofar.empty())
      continue;
    if (::mkdir(sofar.c_str(), mode) == 0) {
      ::chmod(sofar.c_str(), mode);  // mkdir's mode went through the umask
      continue;
    }
    if (errno == EEXIST) {
      struct stat st;
      if (::stat(sofar.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        continue;
      return Errorf(ENOTDIR, "{} exists and is not a directory", sofar);
    }
    return SysError("cannot create directory {}", sofar);
  }
  return Status::Ok();
}

}  // namespace kcr::spank
