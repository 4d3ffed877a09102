// SPDX-License-Identifier: Apache-2.0
#include "podid/metrics/text_serializer.h"

#include <charconv>
#include <cmath>
#include <cstdint>

namespace podid::metrics {
namespace {

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

// Length of the well-formed UTF-8 sequence at the start of `s`, or 0 if it is not one (bad lead byte,
// truncated, overlong, surrogate or above U+10FFFF). Follows the table in Unicode 15 section 3.9 (D92).
std::size_t utf8_sequence_length(std::string_view s) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) {
    return 1;
  }
  std::size_t length = 0;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    second_min = lead == 0xE0 ? 0xA0 : 0x80;  // no overlong forms
    second_max = lead == 0xED ? 0x9F : 0xBF;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    second_min = lead == 0xF0 ? 0x90 : 0x80;  // no overlong forms
    second_max = lead == 0xF4 ? 0x8F : 0xBF;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < length || byte(1) < second_min || byte(1) > second_max) {
    return 0;
  }
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) {
      return 0;
    }
  }
  return length;
}

// Escapes what the format requires: backslash and newline everywhere, the double quote only inside label
// values. Invalid UTF-8 is replaced byte by byte, so the rest of the text survives.
void append_escaped(std::string& out, std::string_view text, bool escape_quote) {
  while (!text.empty()) {
    const std::size_t length = utf8_sequence_length(text);
    if (length == 0) {
      out += kReplacementCharacter;
      text.remove_prefix(1);
      continue;
    }
    const char c = text.front();
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quote) {
      out += "\\\"";
    } else {
      out.append(text.substr(0, length));
    }
    text.remove_prefix(length);
  }
}

// Shortest text that reads back as the same double, and the spellings Prometheus expects for the rest.
void append_value(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buffer[32];
    const auto result = std::to_chars(std::begin(buffer), std::end(buffer), value);
    out.append(buffer, result.ptr);
  }
}

void append_value(std::string& out, std::uint64_t value) {
  char buffer[24];
  const auto result = std::to_chars(std::begin(buffer), std::end(buffer), value);
  out.append(buffer, result.ptr);
}

std::string_view type_name(MetricType type) {
  switch (type) {
    case MetricType::Counter:
      return "counter";
    case MetricType::Gauge:
      return "gauge";
    case MetricType::Histogram:
      return "histogram";
  }
  return "untyped";
}

// `name{a="x",b="y"[,le="bound"]} value`; `le` goes last, where client_golang puts it too.
template <typename Value>
void append_sample(std::string& out, std::string_view name, std::string_view suffix, const ClientMetric& metric,
                   Value value, const double* le = nullptr) {
  out.append(name).append(suffix);
  if (!metric.label.empty() || le != nullptr) {
    out += '{';
    const char* separator = "";
    for (const auto& label : metric.label) {
      out.append(separator).append(label.name).append("=\"");
      append_escaped(out, label.value, true);
      out += '"';
      separator = ",";
    }
    if (le != nullptr) {
      out.append(separator).append("le=\"");
      append_value(out, *le);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  append_value(out, value);
  out += '\n';
}

void append_family(std::string& out, const MetricFamily& family) {
  if (family.metric.empty()) {
    return;
  }
  // An empty HELP is left out rather than written blank, so promtool's lint still reports it.
  if (!family.help.empty()) {
    out.append("# HELP ").append(family.name).append(" ");
    append_escaped(out, family.help, false);
    out += '\n';
  }
  out.append("# TYPE ").append(family.name).append(" ").append(type_name(family.type)).append("\n");
  for (const auto& metric : family.metric) {
    switch (family.type) {
      case MetricType::Counter:
        append_sample(out, family.name, "", metric, metric.counter.value);
        break;
      case MetricType::Gauge:
        append_sample(out, family.name, "", metric, metric.gauge.value);
        break;
      case MetricType::Histogram:
        for (const auto& bucket : metric.histogram.bucket) {
          append_sample(out, family.name, "_bucket", metric, bucket.cumulative_count, &bucket.upper_bound);
        }
        append_sample(out, family.name, "_sum", metric, metric.histogram.sample_sum);
        append_sample(out, family.name, "_count", metric, metric.histogram.sample_count);
        break;
    }
  }
}

}  // namespace

std::string TextSerializer::Serialize(const std::vector<MetricFamily>& families) const {
  std::string out;
  for (const auto& family : families) {
    append_family(out, family);
  }
  return out;
}

void TextSerializer::Serialize(std::ostream& out, const std::vector<MetricFamily>& families) const {
  out << Serialize(families);
}

}  // namespace podid::metrics
