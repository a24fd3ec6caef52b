// Status: the result of an operation — ok, or an errno-style code plus a
// message naming the cause (and the fix, where there is one). Errors travel
// as values; nothing in libkcr throws across its API.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>

namespace kcr {

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return {}; }
  // code is a positive errno value; stored negated as the C API returns it.
  static Status Error(int errno_code, std::string message) {
    return Status(-(errno_code > 0 ? errno_code : EIO), std::move(message));
  }

  bool ok() const { return code_ == 0; }
  // 0, or a negative errno value (-EPERM, -EBADMSG, ...).
  int code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes context: "opening image x: <message>".
  Status With(std::string_view context) const {
    if (ok())
      return *this;
    std::string m(context);
    m += ": ";
    m += message_;
    return Status(code_, std::move(m));
  }

 private:
  Status(int code, std::string message) : code_(code), message_(std::move(message)) {}
  int code_ = 0;
  std::string message_;
};

}  // namespace kcr
