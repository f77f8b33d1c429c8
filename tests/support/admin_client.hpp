#pragma once
// Talking to mtlsd's admin endpoint the way operators do: curl for HTTP(S),
// a parser for the Prometheus text format that /metrics serves, and python3's
// json module to read /status. Owned by the operations-tests helper.
//
// curl and python3 are real, independent implementations: a response they
// cannot read is a response a scraper or a monitoring script cannot read.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mtlsd::test {

using namespace std::chrono_literals;

struct http_options {
  std::string method;  // empty: GET
  bool tls = false;    // https://
  std::filesystem::path ca_file;                  // server verification (https)
  std::filesystem::path cert_file, key_file;      // client certificate (https); empty: none
  std::chrono::milliseconds timeout = 10s;
};

struct http_reply {
  int curl_exit = -1;  // 0: a complete HTTP response arrived
  int status = 0;      // HTTP status code; 0 when there was no response
  std::string headers;  // the raw header block
  std::string body;      // always empty for HEAD: curl does not read one
  std::string error;    // curl's own message when curl_exit != 0
  // First value of header `name` (case-insensitive), trimmed; empty when absent.
  std::string header(const std::string& name) const;
  std::string describe() const;  // for failure messages
};

// `address` is "host:port" (as in the daemon's log lines), `path` starts with "/".
http_reply http_request(const std::string& address, const std::string& path, const http_options& options = {});

// One sample of the Prometheus text exposition format.
struct metric_sample {
  std::string name;
  std::map<std::string, std::string> labels;  // unescaped
  std::string value;
};

class metrics_text {
 public:
  // Throws harness_error on a line that is not a comment, blank or a sample.
  static metrics_text parse(const std::string& text);

  // The value of the sample with exactly this name and label set.
  std::optional<std::string> value(const std::string& name,
                                   const std::map<std::string, std::string>& labels = {}) const;
  // value() as an integer; nullopt when absent or not an integer.
  std::optional<std::int64_t> integer(const std::string& name,
                                      const std::map<std::string, std::string>& labels = {}) const;
  std::optional<double> number(const std::string& name, const std::map<std::string, std::string>& labels = {}) const;
  std::vector<metric_sample> samples(const std::string& name) const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::vector<metric_sample> samples_;
};

// A JSON document flattened by python3 into paths: "services.0.name",
// "services.#" (array length). Construction fails (harness_error) when python3
// cannot parse the text.
class json_document {
 public:
  static json_document parse(const std::string& text);

  bool has(const std::string& path) const { return values_.count(path) != 0; }
  // Typed access; harness_error when the path is absent or of another type.
  std::string string(const std::string& path) const;
  double number(const std::string& path) const;
  bool boolean(const std::string& path) const;
  bool is_null(const std::string& path) const;
  std::size_t size(const std::string& path) const;  // of an array

 private:
  struct value {
    char type;  // s string, n number, b boolean, z null, a array (text = length), o object
    std::string text;
  };
  const value& at(const std::string& path, char type) const;
  std::map<std::string, value> values_;
};

}  // namespace mtlsd::test
