#include "views/internal/read_index.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <thread>

#include "core/text.h"

namespace contacts {
namespace {

// Pieces of names: ASCII, and text whose case folding is not byte-wise: Å, ß (to "ss"), the
// Greek final sigma (to σ), the Turkish dotted capital I (to "i" and a combining dot) and the
// dotless ı (its own), accented Latin.
const std::vector<std::string> kPieces = {"Ann",
                                          "anna",
                                          "Mar",
                                          "tin",
                                          "Martin",
                                          "Smith",
                                          "\xC3\x85sa",
                                          "Stra\xC3\x9F"
                                          "e",
                                          "STRASSE",
                                          "ss",
                                          "\xCE\xA3\xCE\x9F\xCE\xA6\xCE\x9F\xCE\xA3",
                                          "\xCF\x83\xCE\xBF\xCF\x86\xCE\xBF\xCF\x82",
                                          "\xC4\xB0stanbul",
                                          "\xC4\xB1rmak",
                                          "i",
                                          "\xC3\x89lodie",
                                          "Chlo\xC3\xA9",
                                          " ",
                                          "-",
                                          "1",
                                          "42",
                                          "O'Brien"};

// Long queries (4 bytes or more) that some contacts match, dense and sparse.
const std::vector<std::string> kCountedQueries = {casefold("Martin"),
                                                  casefold("Stra\xC3\x9F"
                                                           "e"),
                                                  "example", "@mar", casefold("\xC3\x85sa")};

struct Model {
  std::map<int64_t, Contact> contacts;
};

Contact make(int64_t id, std::mt19937_64& rng, int64_t at) {
  Contact c;
  c.id = id;
  c.workspace_id = 9;
  const int pieces = 1 + static_cast<int>(rng() % 3);
  for (int i = 0; i < pieces; ++i) c.name += kPieces[rng() % kPieces.size()];
  if (rng() % 4 != 0) {
    c.email = "u" + std::to_string(rng() % 500) + "@" + kPieces[rng() % 6] + ".example";
    c.email = normalize_email(*c.email);
  }
  c.folded_name = casefold(c.name);
  c.folded_email = c.email ? casefold(*c.email) : std::string();
  c.event_count = 1;
  c.created_at = c.updated_at = c.last_seen_at = at;
  return c;
}

// The scan: every contact whose folded name or email holds the query, in list order.
ContactPage scan(const Model& m, std::string_view q, int64_t skip, int64_t limit) {
  std::vector<const Contact*> hits;
  for (const auto& [id, c] : m.contacts)
    if (q.empty() || search_text_contains(encode_search_text(c), q)) hits.push_back(&c);
  std::sort(hits.begin(), hits.end(), [](const Contact* a, const Contact* b) {
    return a->last_seen_at != b->last_seen_at ? a->last_seen_at > b->last_seen_at : a->id > b->id;
  });
  ContactPage out;
  out.total = static_cast<int64_t>(hits.size());
  for (int64_t i = skip; i < out.total && i < skip + limit; ++i)
    out.contacts.push_back(*hits[static_cast<size_t>(i)]);
  return out;
}

// A query as a client sends it: a piece of a name or an email, in any case, folded like the API.
std::string random_query(const Model& m, std::mt19937_64& rng) {
  if (rng() % 8 == 0 || m.contacts.empty()) return casefold(kPieces[rng() % kPieces.size()]);
  auto it = m.contacts.begin();
  std::advance(it, static_cast<long>(rng() % m.contacts.size()));
  const Contact& c = it->second;
  std::string text = rng() % 3 == 0 && c.email ? *c.email : c.name;
  // Cut at character boundaries, 1 to 8 characters.
  std::vector<size_t> starts;
  for (size_t i = 0; i < text.size(); ++i)
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) starts.push_back(i);
  starts.push_back(text.size());
  const size_t chars = starts.size() - 1;
  const size_t from = rng() % chars;
  const size_t n = 1 + rng() % std::min<size_t>(8, chars - from);
  std::string piece = text.substr(starts[from], starts[from + n] - starts[from]);
  if (rng() % 2) piece = unicode_lower(piece);
  return casefold(piece);
}

void check_same(const WorkspaceIndex& index, const Model& m, std::string_view q, int64_t skip,
                int64_t limit) {
  ContactPage got = index.page(q, skip, limit);
  ContactPage want = scan(m, q, skip, limit);
  INFO("query \"" << std::string(q) << "\" skip " << skip << " limit " << limit);
  REQUIRE(got.total == want.total);
  REQUIRE(got.contacts.size() == want.contacts.size());
  for (size_t i = 0; i < got.contacts.size(); ++i) {
    const Contact& a = got.contacts[i];
    const Contact& b = want.contacts[i];
    CHECK(a.id == b.id);
    CHECK(a.workspace_id == b.workspace_id);
    CHECK(a.name == b.name);
    CHECK(a.email == b.email);
    CHECK(a.event_count == b.event_count);
    CHECK(a.last_seen_at == b.last_seen_at);
    CHECK(a.created_at == b.created_at);
    CHECK(a.updated_at == b.updated_at);
  }
}

void check_queries(const WorkspaceIndex& index, const Model& m, std::mt19937_64& rng, int n) {
  check_same(index, m, "", 0, 50);
  check_same(index, m, "", static_cast<int64_t>(m.contacts.size()) / 2, 50);
  for (int i = 0; i < n; ++i) {
    std::string q = random_query(m, rng);
    const int64_t limit = 1 + static_cast<int64_t>(rng() % 100);
    const int64_t total = scan(m, q, 0, 0).total;
    const int64_t skip = rng() % 3 == 0 ? 0 : static_cast<int64_t>(rng() % (total + 2));
    check_same(index, m, q, skip, limit);
  }
}

TEST_CASE(
    "the read index gives the scan's results, in list order, through visits, renames, "
    "new emails and deletes") {
  for (uint64_t seed : {1u, 2u, 3u}) {
    std::mt19937_64 rng(seed);
    WorkspaceIndex index(9);
    Model m;
    int64_t next_id = 1;
    int64_t clock = 1000;
    for (int round = 0; round < 12; ++round) {
      // A batch of changes, as a commit applies them.
      for (int op = 0; op < 400; ++op) {
        const auto kind = rng() % 10;
        if (kind < 4 || m.contacts.empty()) {
          Contact c = make(next_id++, rng, clock + static_cast<int64_t>(rng() % 50));
          m.contacts[c.id] = c;
          index.upsert(c);
          continue;
        }
        auto it = m.contacts.begin();
        std::advance(it, static_cast<long>(rng() % m.contacts.size()));
        Contact c = it->second;
        if (kind < 7) {
          // A visit: later (or, out of order, earlier) last_seen_at, one more event.
          c.last_seen_at = std::max(c.last_seen_at, clock + static_cast<int64_t>(rng() % 50));
          ++c.event_count;
          c.updated_at = c.last_seen_at;
        } else if (kind == 7) {
          // A rename: the name of the latest command.
          c.name = kPieces[rng() % kPieces.size()] + " " + kPieces[rng() % kPieces.size()];
          c.folded_name = casefold(c.name);
          c.updated_at = clock;
        } else if (kind == 8) {
          // An email-less contact gets one.
          c.email = "new" + std::to_string(c.id) + "@example.org";
          c.folded_email = casefold(*c.email);
        } else {
          m.contacts.erase(it);
          index.erase(c.id);
          continue;
        }
        m.contacts[c.id] = c;
        index.upsert(c);
      }
      index.compact_if_sparse();
      clock += 100;
      check_queries(index, m, rng, 60);
      // Queries of 4 bytes or more asked in every round: their totals, counted once, are kept
      // by the changes of the rounds after (renames, new emails, deletes, compactions).
      for (std::string_view q : kCountedQueries) {
        check_same(index, m, q, 0, 1 + static_cast<int64_t>(rng() % 60));
        check_same(index, m, q, static_cast<int64_t>(rng() % 200), 20);
      }
    }
    // Deletes of most contacts: compaction rebuilds the index without them.
    std::vector<int64_t> ids;
    for (const auto& [id, c] : m.contacts) ids.push_back(id);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i % 5 == 0) continue;
      m.contacts.erase(ids[i]);
      index.erase(ids[i]);
    }
    index.compact_if_sparse();
    CHECK(index.size() == m.contacts.size());
    check_queries(index, m, rng, 100);
  }
}

TEST_CASE("search of Unicode text matches as the API folds it") {
  WorkspaceIndex index(9);
  Model m;
  auto add = [&](int64_t id, std::string name, std::optional<std::string> email) {
    Contact c;
    c.id = id;
    c.workspace_id = 9;
    c.name = std::move(name);
    c.email = std::move(email);
    c.folded_name = casefold(c.name);
    c.folded_email = c.email ? casefold(*c.email) : std::string();
    c.last_seen_at = id;
    m.contacts[id] = c;
    index.upsert(c);
  };
  add(1, "\xC3\x85sa Berg", "asa@example.se");  // Åsa
  add(2,
      "Stra\xC3\x9F"
      "e",
      std::nullopt);                                     // Straße
  add(3, "\xCE\x9F\xCE\x94\xCE\xA3", std::nullopt);      // ΟΔΣ
  add(4, "\xE1\xBD\x80\xCE\xB4\xCF\x82", std::nullopt);  // ὀδς, final sigma
  add(5, "\xC4\xB0zmir", "izmir@example.tr");            // İzmir
  add(6, "\xC4\xB1\xC5\x9F\xC4\xB1k", std::nullopt);     // ışık
  for (std::string q : {"\xC3\xA5", "\xC3\x85SA", "ss", "STRASSE", "\xCF\x83", "\xCF\x82",
                        "\xCE\xB4\xCF\x83", "\xC4\xB0", "i\xCC\x87", "izm", "\xC4\xB1",
                        "\xC4\xB1\xC5\x9F\xC4\xB1k", "berg", "example"}) {
    check_same(index, m, casefold(q), 0, 50);
  }
  // Spot checks of what the folding gives (as the scan does).
  CHECK(index.page(casefold("STRASSE"), 0, 50).total == 1);
  CHECK(index.page(casefold("\xCF\x82"), 0, 50).total == 2);  // σ in ΟΔΣ and ὀδς
  CHECK(index.page(casefold("\xC3\x85"), 0, 50).total == 1);  // Å: Åsa, not asa@
}

TEST_CASE("matches bunched at the end of the list order are found all the same") {
  // 3,000 recent contacts without the query, then 2,000 old ones with it: a walk from the start
  // expects a match every 2.5 contacts and gives up for ordering the matches.
  WorkspaceIndex index(9);
  Model m;
  for (int64_t i = 1; i <= 5000; ++i) {
    Contact c;
    c.id = i;
    c.workspace_id = 9;
    c.name = i <= 2000 ? "Old Zqx " + std::to_string(i) : "New " + std::to_string(i);
    c.folded_name = casefold(c.name);
    c.last_seen_at = i;
    m.contacts[i] = c;
    index.upsert(c);
  }
  for (std::string q : {"z", "zq", "zqx", "old zqx", "zqx 1"}) {
    check_same(index, m, q, 0, 50);
    check_same(index, m, q, 100, 50);
    check_same(index, m, q, 1990, 50);
  }
}

TEST_CASE("a 1- to 3-byte search counts its gram's contacts; a longer one never across fields") {
  WorkspaceIndex index(9);
  Contact c;
  c.id = 1;
  c.workspace_id = 9;
  c.name = "Bob";
  c.email = "zed@x.org";
  c.folded_name = "bob";
  c.folded_email = "zed@x.org";
  index.upsert(c);
  CHECK(index.page("b", 0, 10).total == 1);
  CHECK(index.page("bz", 0, 10).total == 0);    // the end of the name and the start of the email
  CHECK(index.page("bobz", 0, 10).total == 0);  // its trigrams are all there, in two fields
  CHECK(index.page("zed@", 0, 10).total == 1);
  CHECK(index.holds_text("zed@x.org"));
  index.erase(1);
  CHECK(index.page("b", 0, 10).total == 0);
  CHECK(index.page("zed@", 0, 10).total == 0);
  // Gone from memory too, not only from the answers.
  CHECK_FALSE(index.holds_text("Bob"));
  CHECK_FALSE(index.holds_text("zed@x.org"));
}

Contact person(int64_t id, std::string name, int64_t at) {
  Contact c;
  c.id = id;
  c.workspace_id = 4;
  c.name = std::move(name);
  c.folded_name = casefold(c.name);
  c.last_seen_at = at;
  return c;
}

TEST_CASE("ReadIndex queues the commits of a workspace being built, then applies them in order") {
  ReadIndex index(1 << 30);
  CHECK_FALSE(index.page(4, "", 0, 10));
  REQUIRE(index.begin_build(4, 3000));
  CHECK_FALSE(index.begin_build(4, 3000));  // one build at a time
  CHECK(index.tracks(4));
  CHECK_FALSE(index.tracks(5));
  // Built from a snapshot that holds contact 1 as "Ann"; commits land meanwhile.
  auto built = std::make_unique<WorkspaceIndex>(4);
  built->upsert(person(1, "Ann", 10));
  index.apply(4, {{1, person(1, "Anna", 20)}, {2, person(2, "Bo", 15)}});
  index.apply(4, {{2, std::nullopt}, {3, person(3, "Cy", 30)}});
  CHECK_FALSE(index.page(4, "", 0, 10));  // not ready: the caller reads RocksDB
  index.finish_build(4, std::move(built));
  auto page = index.page(4, "", 0, 10);
  REQUIRE(page);
  REQUIRE(page->total == 2);
  CHECK(page->contacts[0].name == "Cy");
  CHECK(page->contacts[1].name == "Anna");
  // Later commits are applied at once.
  index.apply(4, {{1, std::nullopt}});
  CHECK(index.page(4, "", 0, 10)->total == 1);
  CHECK(index.stats().workspaces == 1);
  CHECK(index.stats().contacts == 1);
  CHECK(index.stats().builds == 1);
}

TEST_CASE("ReadIndex stays within its budget: least recently read dropped, too big never kept") {
  auto workspace = [](int64_t ws, int n) {
    auto w = std::make_unique<WorkspaceIndex>(ws);
    for (int i = 0; i < n; ++i) w->upsert(person(i + 1, "Person " + std::to_string(i), i));
    return w;
  };
  const size_t one = workspace(1, 1000)->bytes();
  ReadIndex index(one * 5);  // room for two (each kept twice)
  for (int64_t ws : {1, 2}) {
    REQUIRE(index.begin_build(ws, 1000));
    index.finish_build(ws, workspace(ws, 1000));
  }
  REQUIRE(index.page(1, "", 0, 1));  // 2 is now the least recently read
  REQUIRE(index.begin_build(3, 1000));
  index.finish_build(3, workspace(3, 1000));
  CHECK(index.page(1, "", 0, 1));
  CHECK_FALSE(index.page(2, "", 0, 1));
  CHECK(index.page(3, "", 0, 1));
  CHECK(index.stats().evictions == 1);
  CHECK(index.stats().bytes <= index.stats().max_bytes);
  // A workspace bigger than the whole budget is dropped, and not built again at that size.
  REQUIRE(index.begin_build(4, 5000));
  index.finish_build(4, workspace(4, 5000));
  CHECK_FALSE(index.page(4, "", 0, 1));
  CHECK_FALSE(index.begin_build(4, 5000));
  CHECK(index.begin_build(4, 1000));  // shrunk: tried again
  CHECK(index.stats().bytes <= index.stats().max_bytes);
}

}  // namespace
}  // namespace contacts

namespace contacts {
namespace {

TEST_CASE("ReadIndex readers see whole batches while commits apply them") {
  ReadIndex index(1 << 30);
  constexpr int kContacts = 3000;
  auto built = std::make_unique<WorkspaceIndex>(4);
  for (int i = 0; i < kContacts; ++i) built->upsert(person(i + 1, "P" + std::to_string(i), i));
  REQUIRE(index.begin_build(4, kContacts));
  index.finish_build(4, std::move(built));
  // Batch k gives every contact event_count k and moves them all: a reader that saw part of a
  // batch would find two counts on one page.
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::atomic<int64_t> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      while (!done.load()) {
        auto page = index.page(4, t == 0 ? "" : "p1", 0, 100);
        if (!page || page->contacts.empty()) {
          ++torn;
          continue;
        }
        for (const auto& c : page->contacts)
          if (c.event_count != page->contacts[0].event_count) ++torn;
        ++reads;
      }
    });
  }
  for (int k = 1; k <= 200; ++k) {
    std::vector<ReadIndex::Change> batch;
    for (int i = 0; i < kContacts; ++i) {
      Contact c = person(i + 1, "P" + std::to_string(i), k * kContacts + (i * 7919) % kContacts);
      c.event_count = k;
      batch.push_back({c.id, c});
    }
    index.apply(4, std::move(batch));
  }
  while (reads.load() < 100) std::this_thread::yield();
  done.store(true);
  for (auto& r : readers) r.join();
  CHECK(torn.load() == 0);
  auto last = index.page(4, "", 0, kContacts);
  REQUIRE(last);
  CHECK(last->total == kContacts);
  for (const auto& c : last->contacts) CHECK(c.event_count == 200);
}

}  // namespace
}  // namespace contacts
