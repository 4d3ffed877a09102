// SPDX-License-Identifier: Apache-2.0
//
// Small files read whole: credentials, CA bundles, kubeconfigs, cloud configs. Both binaries read them the same
// way, with the same limit and the same error (errno and the path).
#pragma once

#include <filesystem>
#include <string>

#include "podid/result.h"

namespace podid {

// The whole of a small file (a CA bundle, a token, a kubeconfig): errno and the path on failure, EFBIG
// beyond 4 MiB, which no credential file reaches.
Result<std::string> read_file(const std::filesystem::path& path);

// `text` without leading and trailing whitespace (token files end with a newline when written by hand).
std::string trim(std::string text);

}  // namespace podid
