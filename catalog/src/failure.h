// How the catalog's own code stops at an error. Inside the library the
// SQLite wrappers (sqlite.h) and the helpers built on them throw a Failure
// carrying the Status a public call returns; every public entry point runs
// its body through Guard(), which catches it. So no exception leaves the
// library, and the many SQLite calls of one operation need no check each.
#pragma once

#include <kcr/status.h>
#include <kcr/util/status_format.h>

#include <cerrno>
#include <exception>
#include <utility>

namespace kcr::catalog {

class Failure : public std::exception {
 public:
  explicit Failure(Status status) : status_(std::move(status)) {}
  const Status& status() const { return status_; }
  const char* what() const noexcept override { return status_.message().c_str(); }

 private:
  Status status_;
};

// Throws the Status Errorf() makes.
template <typename... Args>
[[noreturn]] void Fail(int errno_code, fmt::format_string<Args...> f, Args&&... args) {
  throw Failure(Errorf(errno_code, f, std::forward<Args>(args)...));
}

// Runs `body`; a Failure becomes its Status, anything else thrown (the C++
// library's own exceptions) an EIO error with its text.
template <typename Body>
Status Guard(Body&& body) {
  try {
    std::forward<Body>(body)();
    return Status::Ok();
  } catch (const Failure& f) {
    return f.status();
  } catch (const std::exception& e) {
    return Status::Error(EIO, e.what());
  }
}

}  // namespace kcr::catalog
