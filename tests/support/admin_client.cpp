#include "admin_client.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "pki.hpp"
#include "process.hpp"

namespace mtlsd::test {

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

std::string http_reply::header(const std::string& name) const {
  const std::string wanted = lower(name);
  std::istringstream lines(headers);
  std::string line;
  while (std::getline(lines, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    if (lower(trim(line.substr(0, colon))) == wanted) return trim(line.substr(colon + 1));
  }
  return {};
}

std::string http_reply::describe() const {
  return "curl exit " + std::to_string(curl_exit) + " (" + error + "), HTTP " + std::to_string(status) + "\n" +
         headers + body;
}

http_reply http_request(const std::string& address, const std::string& path, const http_options& options) {
  temp_dir scratch;
  const auto header_file = scratch / "headers";
  const auto body_file = scratch / "body";
  // -q: no ~/.curlrc; --noproxy: a proxy from the environment must not stand
  // between the test and a loopback port. Headers and body go to files, byte
  // for byte; stdout carries only the status and curl's error text.
  std::vector<std::string> argv = {"curl", "-q", "--silent", "--noproxy", "*", "--max-time",
                                   std::to_string(std::max<long long>(1, options.timeout.count() / 1000)),
                                   "--dump-header", header_file.string(), "--output", body_file.string(),
                                   "--write-out", "%{http_code} %{errormsg}"};
  if (options.method == "HEAD") {
    argv.push_back("--head");
  } else if (!options.method.empty()) {
    argv.push_back("--request");
    argv.push_back(options.method);
  }
  if (options.tls) {
    if (!options.ca_file.empty()) {
      argv.push_back("--cacert");
      argv.push_back(options.ca_file.string());
    }
    if (!options.cert_file.empty()) {
      argv.push_back("--cert");
      argv.push_back(options.cert_file.string());
      argv.push_back("--key");
      argv.push_back(options.key_file.string());
    }
  }
  argv.push_back((options.tls ? "https://" : "http://") + address + path);

  process_options in_path;
  in_path.search_path = true;
  const run_result ran = run_command(argv, options.timeout + 5s, {}, in_path);

  http_reply reply;
  reply.curl_exit = ran.status;
  reply.headers = read_all(header_file);
  reply.body = read_all(body_file);
  // --head writes the header block to the output as well.
  if (options.method == "HEAD" && reply.body.rfind(reply.headers, 0) == 0) reply.body.erase(0, reply.headers.size());
  const std::string tail = trim(ran.out);
  const auto space = tail.find(' ');
  std::from_chars(tail.data(), tail.data() + (space == std::string::npos ? tail.size() : space), reply.status);
  if (space != std::string::npos) reply.error = tail.substr(space + 1);
  return reply;
}

// ---- Prometheus text format -------------------------------------------------

metrics_text metrics_text::parse(const std::string& text) {
  metrics_text out;
  out.text_ = text;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto fail = [&](const std::string& why) {
      throw harness_error("unparsable metrics line (" + why + "): " + line);
    };
    metric_sample s;
    std::size_t pos = 0;
    while (pos < line.size() && line[pos] != '{' && line[pos] != ' ') ++pos;
    s.name = line.substr(0, pos);
    if (s.name.empty()) fail("no name");
    if (pos < line.size() && line[pos] == '{') {
      ++pos;
      while (pos < line.size() && line[pos] != '}') {
        const auto eq = line.find('=', pos);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') fail("label");
        const std::string key = line.substr(pos, eq - pos);
        std::string value;
        pos = eq + 2;
        while (pos < line.size() && line[pos] != '"') {
          char c = line[pos++];
          if (c == '\\' && pos < line.size()) {
            const char e = line[pos++];
            c = e == 'n' ? '\n' : e;
          }
          value += c;
        }
        if (pos >= line.size()) fail("unterminated label value");
        ++pos;  // closing quote
        if (!s.labels.emplace(key, value).second) fail("duplicate label " + key);
        if (pos < line.size() && line[pos] == ',') ++pos;
      }
      if (pos >= line.size()) fail("unterminated label set");
      ++pos;  // '}'
    }
    if (pos >= line.size() || line[pos] != ' ') fail("no value");
    s.value = trim(line.substr(pos + 1));
    // A timestamp may follow the value; mtlsd writes none.
    if (s.value.find(' ') != std::string::npos) fail("unexpected timestamp");
    out.samples_.push_back(std::move(s));
  }
  return out;
}

std::optional<std::string> metrics_text::value(const std::string& name,
                                               const std::map<std::string, std::string>& labels) const {
  for (const auto& s : samples_)
    if (s.name == name && s.labels == labels) return s.value;
  return std::nullopt;
}

std::optional<std::int64_t> metrics_text::integer(const std::string& name,
                                                  const std::map<std::string, std::string>& labels) const {
  const auto text = value(name, labels);
  if (!text) return std::nullopt;
  std::int64_t out = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), out);
  if (ec != std::errc() || end != text->data() + text->size()) return std::nullopt;
  return out;
}

std::optional<double> metrics_text::number(const std::string& name,
                                           const std::map<std::string, std::string>& labels) const {
  const auto text = value(name, labels);
  if (!text) return std::nullopt;
  char* end = nullptr;
  const double out = std::strtod(text->c_str(), &end);
  if (end != text->c_str() + text->size()) return std::nullopt;
  return out;
}

std::vector<metric_sample> metrics_text::samples(const std::string& name) const {
  std::vector<metric_sample> out;
  for (const auto& s : samples_)
    if (s.name == name) out.push_back(s);
  return out;
}

// ---- JSON via python3 -------------------------------------------------------

namespace {

// One line per value: "<type> <path>\t<text>", strings with \ and newlines escaped.
constexpr const char* flatten_script = R"(
import json, sys
def esc(s):
    return s.replace('\\', '\\\\').replace('\n', '\\n')
def walk(path, v):
    key = '.'.join(path)
    if isinstance(v, dict):
        print('o ' + esc(key) + '\t' + str(len(v)))
        for k, x in v.items():
            walk(path + [k], x)
    elif isinstance(v, list):
        print('a ' + esc(key) + '\t' + str(len(v)))
        for i, x in enumerate(v):
            walk(path + [str(i)], x)
    elif isinstance(v, bool):
        print('b ' + esc(key) + '\t' + ('true' if v else 'false'))
    elif v is None:
        print('z ' + esc(key) + '\t')
    elif isinstance(v, (int, float)):
        print('n ' + esc(key) + '\t' + repr(v))
    else:
        print('s ' + esc(key) + '\t' + esc(v))
walk([], json.loads(sys.stdin.read()))
)";

std::string unescape(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      ++i;
      out += text[i] == 'n' ? '\n' : text[i];
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

json_document json_document::parse(const std::string& text) {
  process_options in_path;
  in_path.search_path = true;
  const run_result ran = run_command({"python3", "-c", flatten_script}, 20s, text, in_path);
  if (ran.status != 0) throw harness_error("not valid JSON (python3: " + ran.err + "): " + text);
  json_document out;
  std::istringstream lines(ran.out);
  std::string line;
  while (std::getline(lines, line)) {
    const auto tab = line.find('\t');
    if (line.size() < 2 || tab == std::string::npos) throw harness_error("unexpected flattener output: " + line);
    out.values_[unescape(line.substr(2, tab - 2))] = value{line[0], unescape(line.substr(tab + 1))};
  }
  return out;
}

const json_document::value& json_document::at(const std::string& path, char type) const {
  const auto it = values_.find(path);
  if (it == values_.end()) throw harness_error("JSON has no " + path);
  if (it->second.type != type)
    throw harness_error("JSON " + path + " has type " + it->second.type + ", expected " + type);
  return it->second;
}

std::string json_document::string(const std::string& path) const { return at(path, 's').text; }

double json_document::number(const std::string& path) const { return std::strtod(at(path, 'n').text.c_str(), nullptr); }

bool json_document::boolean(const std::string& path) const { return at(path, 'b').text == "true"; }

bool json_document::is_null(const std::string& path) const {
  const auto it = values_.find(path);
  return it != values_.end() && it->second.type == 'z';
}

std::size_t json_document::size(const std::string& path) const {
  return static_cast<std::size_t>(std::strtoull(at(path, 'a').text.c_str(), nullptr, 10));
}

}  // namespace mtlsd::test
