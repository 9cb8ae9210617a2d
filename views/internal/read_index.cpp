#include "views/internal/read_index.h"

#include <algorithm>
#include <thread>

namespace contacts {

namespace {

// A gram of 1 to 3 bytes as one number: its length, then its bytes.
uint32_t gram(std::string_view bytes) {
  uint32_t g = static_cast<uint32_t>(bytes.size()) << 24;
  for (size_t i = 0; i < bytes.size(); ++i)
    g |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << (8 * (2 - i));
  return g;
}

void add_grams(std::string_view text, std::vector<uint32_t>& out) {
  for (size_t i = 0; i < text.size(); ++i)
    for (size_t n = 1; n <= 3 && i + n <= text.size(); ++n) out.push_back(gram(text.substr(i, n)));
}

}  // namespace

std::string_view WorkspaceIndex::folded_name(const Slot& s) const {
  return std::string_view(texts_).substr(s.text_at + s.name_size + s.email_size,
                                         s.folded_name_size);
}

std::string_view WorkspaceIndex::folded_email(const Slot& s) const {
  return std::string_view(texts_).substr(
      s.text_at + s.name_size + s.email_size + s.folded_name_size, s.folded_email_size);
}

bool WorkspaceIndex::matches(const Slot& s, std::string_view q) const {
  return folded_name(s).find(q) != std::string_view::npos ||
         folded_email(s).find(q) != std::string_view::npos;
}

std::vector<uint32_t> WorkspaceIndex::grams_of(const Slot& s) const {
  std::vector<uint32_t> out;
  out.reserve(3 * (s.folded_name_size + s.folded_email_size));
  add_grams(folded_name(s), out);
  add_grams(folded_email(s), out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Contact WorkspaceIndex::row(const Slot& s) const {
  Contact c;
  c.id = s.id;
  c.workspace_id = workspace_id_;
  std::string_view texts(texts_);
  c.name = texts.substr(s.text_at, s.name_size);
  if (s.has_email) c.email = std::string(texts.substr(s.text_at + s.name_size, s.email_size));
  c.event_count = s.event_count;
  c.last_seen_at = s.last_seen_at;
  c.created_at = s.created_at;
  c.updated_at = s.updated_at;
  return c;
}

uint32_t WorkspaceIndex::add_slot(const Contact& c) {
  Slot s;
  s.id = c.id;
  s.event_count = c.event_count;
  s.last_seen_at = c.last_seen_at;
  s.created_at = c.created_at;
  s.updated_at = c.updated_at;
  s.text_at = texts_.size();
  s.name_size = static_cast<uint32_t>(c.name.size());
  s.has_email = c.email.has_value();
  s.email_size = s.has_email ? static_cast<uint32_t>(c.email->size()) : 0;
  s.folded_name_size = static_cast<uint32_t>(c.folded_name.size());
  s.folded_email_size = static_cast<uint32_t>(c.folded_email.size());
  texts_.append(c.name);
  if (c.email) texts_.append(*c.email);
  texts_.append(c.folded_name);
  texts_.append(c.folded_email);
  const auto slot = static_cast<uint32_t>(slots_.size());
  slots_.push_back(s);
  for (uint32_t g : grams_of(s)) {
    grams_[g].slots.push_back(slot);
    ++posting_entries_;
  }
  order_.insert({OrderKey{s.last_seen_at, s.id}, slot});
  by_id_[s.id] = slot;
  recount(s, +1);
  return slot;
}

std::optional<int64_t> WorkspaceIndex::counted(std::string_view q) const {
  std::lock_guard lock(counted_.mutex);
  auto it = counted_.totals.find(std::string(q));
  if (it == counted_.totals.end()) return std::nullopt;
  return it->second;
}

void WorkspaceIndex::count(std::string_view q, int64_t total) const {
  std::lock_guard lock(counted_.mutex);
  if (counted_.totals.size() >= kMaxCounted) counted_.totals.clear();
  counted_.totals.insert_or_assign(std::string(q), total);
}

void WorkspaceIndex::recount(const Slot& s, int64_t delta) {
  // No page() runs meanwhile (ReadIndex applies changes to a copy no reader uses).
  for (auto& [q, total] : counted_.totals)
    if (matches(s, q)) total += delta;
}

void WorkspaceIndex::kill(uint32_t slot) {
  Slot& s = slots_[slot];
  order_.erase(OrderKey{s.last_seen_at, s.id});
  recount(s, -1);  // before its text is zeroed
  s.alive = false;
  for (uint32_t g : grams_of(s)) ++grams_[g].dead;
  ++dead_slots_;
  // A deleted person's name and email do not stay in memory until the next compaction.
  const size_t size = s.name_size + s.email_size + s.folded_name_size + s.folded_email_size;
  std::fill_n(texts_.begin() + static_cast<std::ptrdiff_t>(s.text_at), size, '\0');
}

void WorkspaceIndex::upsert(const Contact& c) {
  auto it = by_id_.find(c.id);
  if (it != by_id_.end()) {
    Slot& s = slots_[it->second];
    std::string_view texts(texts_);
    const bool same_text =
        texts.substr(s.text_at, s.name_size) == c.name && s.has_email == c.email.has_value() &&
        (!c.email || texts.substr(s.text_at + s.name_size, s.email_size) == *c.email) &&
        folded_name(s) == c.folded_name && folded_email(s) == c.folded_email;
    if (same_text) {
      if (s.last_seen_at != c.last_seen_at) {
        order_.erase(OrderKey{s.last_seen_at, s.id});
        order_.insert({OrderKey{c.last_seen_at, c.id}, it->second});
        s.last_seen_at = c.last_seen_at;
      }
      s.event_count = c.event_count;
      s.created_at = c.created_at;
      s.updated_at = c.updated_at;
      return;
    }
    kill(it->second);  // its grams change: a new slot (the old one's text stays until compaction)
  }
  add_slot(c);
}

void WorkspaceIndex::erase(int64_t contact_id) {
  auto it = by_id_.find(contact_id);
  if (it == by_id_.end()) return;
  kill(it->second);
  by_id_.erase(it);
}

void WorkspaceIndex::compact_if_sparse() {
  if (dead_slots_ < 1024 || dead_slots_ < slots_.size() / 2) return;
  WorkspaceIndex fresh(workspace_id_);
  fresh.slots_.reserve(order_.size());
  // In list order, so that the texts a page reads lie together.
  for (const auto& [key, slot] : order_) {
    const Slot& s = slots_[slot];
    Contact c = row(s);
    c.folded_name = folded_name(s);
    c.folded_email = folded_email(s);
    fresh.add_slot(c);
  }
  fresh.counted_ = counted_;  // the same live contacts: the same totals
  *this = std::move(fresh);
}

size_t WorkspaceIndex::bytes() const {
  // Tree nodes: key, slot, three links, colour and subtree size, and the allocator's header.
  constexpr size_t kTreeNode = 72;
  constexpr size_t kPosting = sizeof(uint32_t) + sizeof(Posting) + 8;
  return sizeof(*this) + slots_.capacity() * sizeof(Slot) + texts_.capacity() +
         by_id_.bucket_count() * (sizeof(int64_t) + sizeof(uint32_t) + 1) +
         order_.size() * kTreeNode + posting_entries_ * sizeof(uint32_t) +
         grams_.bucket_count() * kPosting;
}

bool WorkspaceIndex::walk(std::string_view q, int64_t skip, int64_t limit, ContactPage& out,
                          int64_t max_steps) const {
  int64_t seen = 0;
  int64_t steps = 0;
  for (auto it = order_.begin(); it != order_.end() && seen < skip + limit; ++it) {
    if (++steps > max_steps) {
      out.contacts.clear();
      return false;
    }
    const Slot& s = slots_[it->second];
    if (!matches(s, q)) continue;
    if (seen++ >= skip) out.contacts.push_back(row(s));
  }
  return true;
}

void WorkspaceIndex::page_of_hits(std::vector<uint32_t>& hits, int64_t skip, int64_t limit,
                                  ContactPage& out) const {
  const auto first = static_cast<size_t>(skip);
  if (first >= hits.size()) return;
  const size_t last = std::min(hits.size(), first + static_cast<size_t>(limit));
  auto before = [&](uint32_t a, uint32_t b) {
    return NewestFirst()(OrderKey{slots_[a].last_seen_at, slots_[a].id},
                         OrderKey{slots_[b].last_seen_at, slots_[b].id});
  };
  auto begin = hits.begin() + static_cast<std::ptrdiff_t>(first);
  if (first > 0) std::nth_element(hits.begin(), begin, hits.end(), before);
  std::partial_sort(begin, hits.begin() + static_cast<std::ptrdiff_t>(last), hits.end(), before);
  for (size_t i = first; i < last; ++i) out.contacts.push_back(row(slots_[hits[i]]));
}

ContactPage WorkspaceIndex::page(std::string_view q, int64_t skip, int64_t limit) const {
  ContactPage out;
  const auto live = static_cast<int64_t>(order_.size());
  if (q.empty()) {
    out.total = live;
    for (auto it = order_.find_by_order(static_cast<size_t>(std::max<int64_t>(skip, 0)));
         it != order_.end() && static_cast<int64_t>(out.contacts.size()) < limit; ++it)
      out.contacts.push_back(row(slots_[it->second]));
    return out;
  }
  // Walking the list order from the start reaches rank skip + limit after about
  // (skip + limit) * live / matches contacts if the matches are spread evenly; a step of the
  // walk (a tree node and a substring test) costs about as much as ordering eight matches, so
  // it is taken when the matches are dense. They may not be spread evenly (people of one
  // company who all came long ago): a walk twice as long as expected gives up for ordering.
  auto walked = [&](int64_t matches) {
    if (matches <= 0) return false;
    const int64_t expected = (skip + limit) * (live / matches);
    return 8 * expected < matches && walk(q, skip, limit, out, 2 * expected + 256);
  };
  std::vector<uint32_t> hits;
  if (q.size() <= 3) {
    // Every contact whose name or email holds the gram matches: its live postings are the answer.
    auto found = grams_.find(gram(q));
    if (found == grams_.end()) return out;
    const Posting& p = found->second;
    out.total = static_cast<int64_t>(p.slots.size() - p.dead);
    if (skip >= out.total || walked(out.total)) return out;
    hits.reserve(static_cast<size_t>(out.total));
    for (uint32_t slot : p.slots)
      if (slots_[slot].alive) hits.push_back(slot);
  } else {
    // A total counted before is exact: a dense page is then walked without checking every
    // candidate (a sparse one is ordered from the candidates below, few by then).
    if (auto known = counted(q)) {
      out.total = *known;
      if (skip >= out.total || walked(out.total)) return out;
    }
    // The contacts that hold its two rarest trigrams, checked with the substring test.
    std::vector<const Posting*> postings;
    for (size_t i = 0; i + 3 <= q.size(); ++i) {
      auto found = grams_.find(gram(q.substr(i, 3)));
      if (found == grams_.end()) return out;
      postings.push_back(&found->second);
    }
    std::sort(postings.begin(), postings.end(),
              [](const Posting* a, const Posting* b) { return a->slots.size() < b->slots.size(); });
    const std::vector<uint32_t>& rarest = postings[0]->slots;
    const std::vector<uint32_t>& second = postings[1]->slots;
    // Stepping through the second list, or searching it when it is much longer.
    const bool search_second = second.size() > 16 * rarest.size();
    auto at = second.begin();
    for (uint32_t slot : rarest) {
      if (search_second)
        at = std::lower_bound(at, second.end(), slot);
      else
        while (at != second.end() && *at < slot) ++at;
      if (at == second.end()) break;
      if (*at != slot) continue;
      const Slot& s = slots_[slot];
      if (s.alive && matches(s, q)) hits.push_back(slot);
    }
    out.total = static_cast<int64_t>(hits.size());
    count(q, out.total);
    if (walked(out.total)) return out;
  }
  page_of_hits(hits, skip, limit, out);
  return out;
}

// ReadIndex

namespace {

void apply_to(WorkspaceIndex& index, const std::vector<ReadIndex::Change>& changes) {
  for (const auto& change : changes) {
    if (change.row)
      index.upsert(*change.row);
    else
      index.erase(change.contact_id);
  }
  index.compact_if_sparse();
}

// Until no reader is in copy `side` of `e`.
template <typename Entry>
void drain(const Entry& e, int side) {
  while (e.readers[side].count.load() != 0) std::this_thread::yield();
}

}  // namespace

std::shared_ptr<ReadIndex::Entry> ReadIndex::entry(int64_t ws) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(ws);
  return it == entries_.end() ? nullptr : it->second;
}

std::optional<ContactPage> ReadIndex::page(int64_t ws, std::string_view folded_query, int64_t skip,
                                           int64_t limit) {
  auto e = entry(ws);
  if (!e || !e->ready.load()) return std::nullopt;
  // Enter the copy readers are pointed at, and make sure it still is the one (a writer that
  // switched meanwhile may be waiting for this copy's readers to leave: leave and take the other).
  int side = 0;
  for (;;) {
    side = e->current.load();
    e->readers[side].count.fetch_add(1);
    if (e->current.load() == side) break;
    e->readers[side].count.fetch_sub(1);
  }
  std::optional<ContactPage> out;
  if (e->ready.load()) out = e->copies[side]->page(folded_query, skip, limit);
  e->readers[side].count.fetch_sub(1);
  if (out)
    e->last_read.store(clock_.fetch_add(1, std::memory_order_relaxed) + 1,
                       std::memory_order_relaxed);
  return out;
}

bool ReadIndex::begin_build(int64_t ws, int64_t contacts) {
  std::lock_guard lock(mutex_);
  if (max_bytes_ == 0 || entries_.count(ws)) return false;
  if (auto big = too_big_.find(ws); big != too_big_.end()) {
    if (contacts >= big->second * 9 / 10) return false;  // still about as big
    too_big_.erase(big);
  }
  entries_.emplace(ws, std::make_shared<Entry>());
  return true;
}

bool ReadIndex::tracks(int64_t ws) const {
  std::lock_guard lock(mutex_);
  return entries_.count(ws) > 0;
}

void ReadIndex::account(int64_t ws, const std::shared_ptr<Entry>& e, size_t bytes) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(ws);
  if (it == entries_.end() || it->second != e) return;  // dropped meanwhile
  bytes_ = bytes_ - e->bytes + bytes;
  e->bytes = bytes;
  if (bytes_ > max_bytes_) fit_budget(ws, e);
}

void ReadIndex::finish_build(int64_t ws, std::unique_ptr<WorkspaceIndex> built) {
  auto e = entry(ws);
  if (!e) return;
  size_t bytes = 0;
  {
    std::lock_guard lock(e->write);
    apply_to(*built, e->queued);
    e->queued.clear();
    e->queued.shrink_to_fit();
    e->copies[1] = std::make_unique<WorkspaceIndex>(*built);
    e->copies[0] = std::move(built);
    bytes = e->copies[0]->bytes() + e->copies[1]->bytes();
    e->ready.store(true);
  }
  {
    std::lock_guard lock(mutex_);
    ++builds_;
  }
  account(ws, e, bytes);
}

void ReadIndex::apply(int64_t ws, std::vector<Change> changes) {
  auto e = entry(ws);
  if (!e) return;
  size_t bytes = 0;
  {
    std::lock_guard lock(e->write);
    if (!e->ready.load()) {
      // Still building: applied when it is ready (an index dropped meanwhile has left the map
      // with its entry, so nobody reads what is queued here).
      if (!e->dropped)
        for (auto& change : changes) e->queued.push_back(std::move(change));
      return;
    }
    // Left-right: the batch goes into the copy no reader is pointed at, readers are pointed at
    // it, and once the last reader has left the other copy, the batch goes there too. Readers
    // never wait, and see the batch whole or not at all.
    const int side = e->current.load();
    const int standby = 1 - side;
    drain(*e, standby);  // readers who looked at it just before the last switch
    apply_to(*e->copies[standby], changes);
    e->current.store(standby);
    drain(*e, side);
    apply_to(*e->copies[side], changes);
    bytes = e->copies[0]->bytes() + e->copies[1]->bytes();
  }
  account(ws, e, bytes);
}

void ReadIndex::fit_budget(int64_t keep_ws, const std::shared_ptr<Entry>& keep) {
  // Under mutex_ (then each dropped entry's lock).
  auto drop = [&](std::unordered_map<int64_t, std::shared_ptr<Entry>>::iterator it) {
    {
      Entry& e = *it->second;
      std::lock_guard lock(e.write);
      e.dropped = true;
      e.ready.store(false);  // readers from now on go to RocksDB
      drain(e, 0);
      drain(e, 1);
      e.copies[0].reset();
      e.copies[1].reset();
      e.queued.clear();
    }
    bytes_ -= it->second->bytes;
    ++evictions_;
    entries_.erase(it);
  };
  if (keep->bytes > max_bytes_) {
    // Alone over the budget: read from RocksDB, and not built again until it shrinks.
    auto it = entries_.find(keep_ws);
    {
      std::lock_guard lock(keep->write);
      too_big_[keep_ws] = keep->copies[0] ? static_cast<int64_t>(keep->copies[0]->size()) : 0;
    }
    drop(it);
  }
  while (bytes_ > max_bytes_) {
    auto victim = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->second->bytes == 0 || it->second == keep) continue;  // building, or the new one
      if (victim == entries_.end() || it->second->last_read.load(std::memory_order_relaxed) <
                                          victim->second->last_read.load(std::memory_order_relaxed))
        victim = it;
    }
    if (victim == entries_.end()) break;
    drop(victim);
  }
}

ReadIndex::Stats ReadIndex::stats() const {
  std::vector<std::shared_ptr<Entry>> all;
  Stats s;
  {
    std::lock_guard lock(mutex_);
    s.bytes = bytes_;
    s.max_bytes = max_bytes_;
    s.builds = builds_;
    s.evictions = evictions_;
    for (const auto& [ws, e] : entries_) all.push_back(e);
  }
  for (const auto& e : all) {
    std::lock_guard lock(e->write);
    if (!e->ready.load()) continue;
    ++s.workspaces;
    s.contacts += e->copies[0]->size();
  }
  return s;
}

}  // namespace contacts
