// Owner: config module. The printed form of a configuration error.
#include "mtlsd/config/error.hpp"

namespace mtlsd {

// "file:line:col: key: message"; a position of line 0 means the file as a
// whole (it could not be read, or something is missing from it), and an empty
// key means the problem is not tied to one key (a TOML syntax error).
std::string config_error::to_string() const {
  std::string out = where.file;
  if (where.line > 0) {
    out += ':' + std::to_string(where.line) + ':' + std::to_string(where.column);
  }
  out += ": ";
  if (!key.empty()) out += key + ": ";
  out += message;
  return out;
}

}  // namespace mtlsd
