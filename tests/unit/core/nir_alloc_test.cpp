// Proves that checking a valid NIR does not touch the heap (the hot path of bulk intake).
// Its own program: it replaces the global allocation functions, which must not affect other tests.

#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <string>
#include <string_view>

#include "core/nir/nir.hpp"

// --- allocation counter ------------------------------------------------------------------------
// Replaces the global allocation functions of this test program so that a test can prove that
// checking a valid NIR does not touch the heap. Counting is off except inside that test. Not used
// under AddressSanitizer, which brings its own allocator (the test is skipped there).
#if !defined(__SANITIZE_ADDRESS__)
#define LIAISON_NIR_COUNT_ALLOCATIONS 1
namespace {
bool g_counting = false;
std::size_t g_allocations = 0;

// Out of line: once inlined into a delete expression, g++ sees malloc/free paired with new/delete
// and warns (-Wmismatched-new-delete), although the replacement makes them the same allocator.
[[gnu::noinline]] void* countedAllocate(std::size_t size) noexcept {
  if (g_counting) ++g_allocations;
  return std::malloc(size == 0 ? 1 : size);
}
[[gnu::noinline]] void countedFree(void* p) noexcept {
  std::free(p);
}
}  // namespace

void* operator new(std::size_t size) {
  if (void* p = countedAllocate(size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  if (void* p = countedAllocate(size)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return countedAllocate(size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return countedAllocate(size);
}
void operator delete(void* p) noexcept {
  countedFree(p);
}
void operator delete[](void* p) noexcept {
  countedFree(p);
}
void operator delete(void* p, std::size_t) noexcept {
  countedFree(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  countedFree(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  countedFree(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  countedFree(p);
}
#endif

namespace liaison::nir {
namespace {

constexpr std::string_view kLocation = "patient-nir";

// --- hot path ----------------------------------------------------------------------------------

TEST(NirAllocation, ValidNirDoesNotAllocate) {
#if defined(LIAISON_NIR_COUNT_ALLOCATIONS)
  const std::string inputs[] = {"2 79 03 51 215 189 89", "253072B07300470",
                                "2\xC2\xA0"
                                "95\xC2\xA0"
                                "10\xC2\xA0"
                                "99\xC2\xA0"
                                "126 111 93"};
  Traits traits;
  traits.sex = 'F';
  traits.birth_year = 1979;
  traits.birth_month = 3;
  traits.birth_place_insee = "51215";

  for (const std::string& input : inputs) {
    SCOPED_TRACE(input);
    g_allocations = 0;
    g_counting = true;
    const bool valid = check(input, kLocation).valid();
    g_counting = false;
    EXPECT_TRUE(valid);
    EXPECT_EQ(g_allocations, 0u);
  }

  g_allocations = 0;
  g_counting = true;
  const bool valid_with_traits = check(inputs[0], traits, kLocation).issues.empty();
  g_counting = false;
  EXPECT_TRUE(valid_with_traits);
  EXPECT_EQ(g_allocations, 0u);

  // The counter does see allocations: an invalid NIR builds an issue with a message.
  g_allocations = 0;
  g_counting = true;
  const bool invalid = !check("279035121518988", kLocation).valid();
  g_counting = false;
  EXPECT_TRUE(invalid);
  EXPECT_GT(g_allocations, 0u);
#else
  GTEST_SKIP() << "allocation counting is disabled under AddressSanitizer";
#endif
}

}  // namespace
}  // namespace liaison::nir
