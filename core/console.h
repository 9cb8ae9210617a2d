// Status lines on stdout that other programs (and the tests) read line by line.
#pragma once

#include <cstdio>
#include <string>

namespace contacts {

// Writes `line` and a newline to stdout in one write, then flushes. A line built with several
// `std::cout <<` can be cut in two by another thread's line (a Kafka group's assignment is
// printed from its own thread while the server prints where it listens); one fwrite holds
// stdout's lock for the whole line.
inline void print_line(std::string line) {
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

}  // namespace contacts
