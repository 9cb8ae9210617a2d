#include "core/console.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/temp_dir.h"

namespace contacts {
namespace {

TEST_CASE("lines printed by several threads at once come out whole") {
  TempDir dir("console_test");
  const std::string path = dir.path() + "/out";
  // Stdout goes to a file for the test's length.
  std::fflush(stdout);
  int saved = ::dup(STDOUT_FILENO);
  REQUIRE(saved >= 0);
  REQUIRE(std::freopen(path.c_str(), "w", stdout) != nullptr);
  constexpr int kThreads = 4, kLines = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([t] {
      for (int i = 0; i < kLines; ++i)
        print_line("thread " + std::to_string(t) + " line " + std::to_string(i) + " " +
                   std::string(200, 'a' + t));
    });
  for (auto& th : threads) th.join();
  std::fflush(stdout);
  REQUIRE(::dup2(saved, STDOUT_FILENO) >= 0);
  ::close(saved);

  std::ifstream in(path);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    std::istringstream words(line);
    std::string thread_word, line_word, padding;
    int t = -1, i = -1;
    words >> thread_word >> t >> line_word >> i >> padding;
    INFO(line);
    CHECK(thread_word == "thread");
    CHECK(line_word == "line");
    REQUIRE((t >= 0 && t < kThreads));
    CHECK(padding == std::string(200, static_cast<char>('a' + t)));
  }
  CHECK(lines == kThreads * kLines);
}

}  // namespace
}  // namespace contacts
