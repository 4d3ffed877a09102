// SPDX-License-Identifier: Apache-2.0
// The translation unit that carries podid's precompiled header (cmake/Pch.cmake); it defines nothing.
