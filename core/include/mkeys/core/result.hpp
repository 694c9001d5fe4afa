// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Result<T>: a value or an Error. In-house rather than std::expected (which Clang 14 cannot
// compile with GCC 12's libstdc++) and of the same shape, so that it can be swapped later.

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

#include "mkeys/core/error.hpp"

namespace mkeys {

template <typename T>
class [[nodiscard]] Result final {
  static_assert(!std::is_same_v<T, Error>, "Result<Error> is ambiguous");

 public:
  Result(T value) : data_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit
  Result(Error error) : data_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit
  template <typename U, typename = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                                    !std::is_same_v<std::decay_t<U>, T> &&
                                                    !std::is_same_v<std::decay_t<U>, Error> &&
                                                    !std::is_same_v<std::decay_t<U>, Result>>>
  Result(U&& value) : data_(std::in_place_index<0>, T(std::forward<U>(value))) {}  // NOLINT

  bool ok() const { return data_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(data_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(data_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(data_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& {
    assert(!ok());
    return std::get<1>(data_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(data_));
  }

 private:
  std::variant<T, Error> data_;
};

template <>
class [[nodiscard]] Result<void> final {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  void value() const { assert(ok()); }
  const Error& error() const& {
    assert(!ok());
    return *error_;
  }
  Error&& error() && {
    assert(!ok());
    return std::move(*error_);
  }

 private:
  std::optional<Error> error_;
};

inline Result<void> Ok() {
  return {};
}

}  // namespace mkeys

// Propagation helpers (no statement expressions: they must build with -Wpedantic).
#define MKEYS_CONCAT_INNER(a, b) a##b
#define MKEYS_CONCAT(a, b) MKEYS_CONCAT_INNER(a, b)

// MKEYS_TRY(expr): evaluates a Result<void>-like expression, returns its error if it failed.
#define MKEYS_TRY(expr)                            \
  do {                                             \
    auto&& mkeys_try_result_ = (expr);             \
    if (!mkeys_try_result_) {                      \
      return std::move(mkeys_try_result_).error(); \
    }                                              \
  } while (false)

// MKEYS_ASSIGN_OR_RETURN(decl, expr): `decl = value` of a Result<T>, or returns its error.
#define MKEYS_ASSIGN_OR_RETURN(decl, expr) \
  MKEYS_ASSIGN_OR_RETURN_IMPL(MKEYS_CONCAT(mkeys_result_, __LINE__), decl, expr)
#define MKEYS_ASSIGN_OR_RETURN_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                                 \
  if (!tmp) {                                        \
    return std::move(tmp).error();                   \
  }                                                  \
  decl = std::move(tmp).value()
