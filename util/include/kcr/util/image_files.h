// The files of an image: one file, or a directory for a process tree's
// image (lib/include/kcr/tree.h). The one rule for everything that sizes or
// deletes images without reading them (the catalog, the Slurm agent).
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>

namespace kcr::util {

// Bytes of the image: the file's size, or the sum of the tree image's
// files. False when there is no image there.
inline bool ImageBytes(const std::string& path, std::uint64_t* bytes) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return false;
  if (S_ISREG(st.st_mode)) {
    *bytes = static_cast<std::uint64_t>(st.st_size);
    return true;
  }
  if (!S_ISDIR(st.st_mode))
    return false;
  std::error_code ec;
  std::uint64_t sum = 0;
  for (const auto& e : std::filesystem::directory_iterator(path, ec)) {
    if (e.is_regular_file(ec))
      sum += e.file_size(ec);
  }
  *bytes = sum;
  return !ec;
}

// Whether an image (or its record), as lstat() saw it, is uid's own: not a
// symlink, uid's, writable by no one else. The one rule for which images a
// job's user may be given to restore (the agent's records, the task).
inline bool ImageOwnedOnlyBy(const struct stat& st, uid_t uid) {
  return !S_ISLNK(st.st_mode) && st.st_uid == uid && !(st.st_mode & (S_IWGRP | S_IWOTH));
}

// The file beside an image that describes it (kcr/catalog/image_record.h).
inline std::string ImageRecordPath(const std::string& image_path) {
  return image_path + ".json";
}

// 0, or the errno of the failure (ENOENT when nothing was there). The
// image's record goes first: a record never outlives its image.
inline int RemoveImage(const std::string& path) {
  ::unlink(ImageRecordPath(path).c_str());
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0)
    return errno;
  if (!S_ISDIR(st.st_mode))
    return ::unlink(path.c_str()) == 0 ? 0 : errno;
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  return ec ? ec.value() : 0;
}

}  // namespace kcr::util
