// SPDX-License-Identifier: Apache-2.0
//
// Strings that many records repeat, held once: compute keys and identity resource ids (a few hundred values,
// each 120-180 characters, over tens of thousands of pods and AzureAssignedIdentities). An interned string is
// a shared pointer: a value lives as long as some record holds it, and the pool forgets values nobody holds.
//
// Not thread-safe: the controller's caches and rounds run on one thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace podid::controller {

using Interned = std::shared_ptr<const std::string>;

// The pool's copy of `value` (the same pointer for equal values while any is held).
Interned intern(std::string_view value);

// "" for null.
inline const std::string& text(const Interned& s) {
  static const std::string kEmpty;
  return s ? *s : kEmpty;
}

}  // namespace podid::controller
