// catalog::Error: the one exception the catalog library throws. Its message
// names the catalog file, the cause and, where there is one, the fix; the
// code lets a caller react (e.g. a refused state move vs. a locked file).
#pragma once

#include <stdexcept>
#include <string>

namespace kcr::catalog {

enum class ErrorCode {
  kNotFound,      // no such checkpoint or catalog file
  kIllegalMove,   // a state change the state machine refuses
  kInvalid,       // a bad argument (empty path, unknown state name, ...)
  kBusy,          // another process held the write lock past the busy timeout
  kPermission,    // the file or its directory cannot be opened as asked
  kNotACatalog,   // not an SQLite file, or an SQLite file of something else
  kCorrupt,       // SQLite reports the file damaged
  kSchemaTooNew,  // written by a newer kcr; this one must not touch it
  kSchemaTooOld,  // needs a migration, but the catalog was opened read-only
  kIo,            // disk full, I/O error, anything else from SQLite
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace kcr::catalog
