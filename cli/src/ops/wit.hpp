// wit.hpp, written into gen/ by `wcomp build` for C++ projects (include it as
// "wit.hpp"): C++ at the boundary of the C bindings `wit-bindgen c` generates
// (gen/<world>.h):
// strings and lists cross it as std::string and std::vector, values handed over are
// owned by RAII wrappers, and nothing here throws (the project is compiled with
// -fno-exceptions; running out of memory aborts).
//
// The helpers are templates over the bindings' types, so they fit any world: every
// WIT string is a `<world>_string_t { uint8_t *ptr; size_t len; }` and every list a
// `..._list_<t>_t { T *ptr; size_t len; }`.
//
// Ownership, as the bindings define it: an exported function owns its parameters
// (`take`, `take_list` and `owned` free them), and allocates what it returns with
// malloc (`make_string`, `make_list`); the bindings free that after the call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace wit {

namespace detail {
// Memory for a returned string or list: malloc, which aborts when it fails, and
// nothing for an empty one (the bindings free a returned value only when its length
// is not 0).
inline void *alloc(std::size_t size) {
  if (size == 0) return nullptr;
  void *p = std::malloc(size);
  if (!p) std::abort();
  return p;
}

// Frees the array of a string or list the bindings handed over: an empty one has no
// allocation behind its pointer.
template <class P>
void release(P *&ptr, std::size_t &len) {
  if (len > 0) std::free(ptr);
  ptr = nullptr;
  len = 0;
}
}  // namespace detail

// The element type of a C list type `L`.
template <class L>
using element_t = std::remove_pointer_t<decltype(L::ptr)>;

// A view of a WIT string, valid as long as the C string is.
template <class S>
std::string_view view(const S &s) {
  return std::string_view(reinterpret_cast<const char *>(s.ptr), s.len);
}

// Takes an owned WIT string (a parameter): a std::string copy, and the C string freed.
template <class S>
std::string take(S *s) {
  std::string out(view(*s));
  detail::release(s->ptr, s->len);
  return out;
}

// A WIT string holding a copy of `v`, to return.
template <class S>
S make_string(std::string_view v) {
  S s;
  s.ptr = static_cast<decltype(s.ptr)>(detail::alloc(v.size()));
  if (!v.empty()) std::memcpy(s.ptr, v.data(), v.size());
  s.len = v.size();
  return s;
}

// Takes an owned WIT list: each element converted with `convert(element &)`, which
// takes over what the element owns (`wit::take` for a string), then the array freed.
template <class L, class F>
auto take_list(L *l, F convert) -> std::vector<decltype(convert(l->ptr[0]))> {
  std::vector<decltype(convert(l->ptr[0]))> out;
  out.reserve(l->len);
  for (std::size_t i = 0; i < l->len; i++) out.push_back(convert(l->ptr[i]));
  detail::release(l->ptr, l->len);
  return out;
}

// Takes an owned WIT list of plain values (numbers, records of numbers).
template <class L>
std::vector<element_t<L>> take_list(L *l) {
  return take_list(l, [](element_t<L> &e) { return e; });
}

// A WIT list to return, each element of `v` converted with `convert(const T &)`.
template <class L, class T, class F>
L make_list(const std::vector<T> &v, F convert) {
  L l;
  l.ptr = static_cast<element_t<L> *>(detail::alloc(sizeof(element_t<L>) * v.size()));
  for (std::size_t i = 0; i < v.size(); i++) l.ptr[i] = convert(v[i]);
  l.len = v.size();
  return l;
}

// A WIT list of plain values to return.
template <class L>
L make_list(const std::vector<element_t<L>> &v) {
  return make_list<L>(v, [](const element_t<L> &e) { return e; });
}

// Owns a value the bindings handed over (a parameter, or a result of an imported
// function) and frees it with its generated `<type>_free` function when it goes out
// of scope, unless `release()` gave it away first:
//
//   wit::owned<my_world_string_t, my_world_string_free> name(*name_param);
template <class T, void (*Free)(T *)>
class owned {
 public:
  explicit owned(T value) : value_(value), live_(true) {}
  owned(const owned &) = delete;
  owned &operator=(const owned &) = delete;
  owned(owned &&other) noexcept : value_(other.value_), live_(other.live_) {
    other.live_ = false;
  }
  ~owned() {
    if (live_) Free(&value_);
  }
  T &operator*() { return value_; }
  T *operator->() { return &value_; }
  // Gives the value away (to return it, say): it is no longer freed here.
  T release() {
    live_ = false;
    return value_;
  }

 private:
  T value_;
  bool live_;
};

}  // namespace wit
