// SPDX-License-Identifier: Apache-2.0
#include "request_framing.h"

#include "podid/ascii.h"

namespace podid::http::detail {
namespace field = boost::beast::http;

namespace {

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Every transfer coding named by every Transfer-Encoding line, in order: 0, 1 (the only allowed: `chunked`),
// or 2 (meaning "more than one").
struct Codings {
  size_t count = 0;
  bool lone_chunked = false;
};

Codings transfer_codings(const Request& req) {
  Codings out;
  for (auto it = req.find(field::field::transfer_encoding); it != req.end() && it->name() == field::field::transfer_encoding; ++it) {
    std::string_view value = it->value();
    size_t pos = 0;
    while (pos <= value.size()) {
      size_t comma = value.find(',', pos);
      if (comma == std::string_view::npos) comma = value.size();
      std::string_view coding = trim_ows(value.substr(pos, comma - pos));
      pos = comma + 1;
      if (coding.empty()) continue;  // "chunked, , " lists are legal and name nothing
      ++out.count;
      out.lone_chunked = out.count == 1 && ascii::iequals(coding, "chunked");
    }
  }
  if (out.count != 1) out.lone_chunked = false;
  return out;
}

}  // namespace

std::optional<Refusal> check_request_framing(const Request& req) {
  size_t hosts = req.count(field::field::host);
  if (hosts > 1 || (req.version() >= 11 && hosts == 0)) return Refusal{"bad_host", Status::bad_request};

  bool has_transfer_encoding = req.count(field::field::transfer_encoding) > 0;
  if (!has_transfer_encoding) return std::nullopt;
  if (req.count(field::field::content_length) > 0) {
    return Refusal{"transfer_encoding_with_content_length", Status::bad_request};
  }
  if (req.version() < 11) return Refusal{"bad_transfer_encoding", Status::bad_request};
  if (!transfer_codings(req).lone_chunked) return Refusal{"bad_transfer_encoding", Status::bad_request};
  return std::nullopt;
}

std::string origin_form(std::string_view target) {
  std::string_view rest;
  if (ascii::istarts_with(target, "http://")) {
    rest = target.substr(7);
  } else if (ascii::istarts_with(target, "https://")) {
    rest = target.substr(8);
  } else {
    return std::string(target);
  }
  size_t end_of_authority = rest.find_first_of("/?#");
  if (end_of_authority == std::string_view::npos) return "/";
  if (rest[end_of_authority] == '/') return std::string(rest.substr(end_of_authority));
  if (rest[end_of_authority] == '?') return "/" + std::string(rest.substr(end_of_authority));
  return "/";  // a fragment is never sent; "http://host#x" names the root
}

}  // namespace podid::http::detail
