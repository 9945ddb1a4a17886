#include <fstream>
#include <iterator>
#include <string>

#include "crypto.hpp"
#include "hookrx/api.hpp"

namespace hookrx {
namespace {

std::string lower_extension(std::string_view name) {
  const std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return {};
  std::string ext(name.substr(dot + 1));
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

void append_length_prefixed(std::string& out, std::string_view s) {
  out += std::to_string(s.size());
  out += ':';
  out += s;
}

}  // namespace

api_result<submission_file> submission_file::from_path(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return api_error{api_errc::invalid_argument, 0, {}, "files: cannot open " + path, 0};
  submission_file f;
  f.content.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) return api_error{api_errc::invalid_argument, 0, {}, "files: cannot read " + path, 0};
  const std::size_t slash = path.find_last_of('/');
  f.filename = slash == std::string::npos ? path : path.substr(slash + 1);
  if (f.filename.empty()) return api_error{api_errc::invalid_argument, 0, {}, "files: not a file name: " + path, 0};
  const std::string ext = lower_extension(f.filename);
  if (ext == "pdf") f.content_type = "application/pdf";
  if (ext == "png") f.content_type = "image/png";
  if (ext == "jpg" || ext == "jpeg") f.content_type = "image/jpeg";
  if (ext == "tif" || ext == "tiff") f.content_type = "image/tiff";
  if (ext == "txt") f.content_type = "text/plain";
  return f;
}

std::string derive_idempotency_key(std::string_view parser_id, const std::vector<submission_file>& files) {
  std::string material = "hookrx-submission-v1\n";
  append_length_prefixed(material, parser_id);
  for (const submission_file& f : files) append_length_prefixed(material, detail::sha256_hex(f.content));
  return "hookrx-" + detail::sha256_hex(material);
}

}  // namespace hookrx
