// A Kafka Streams peer of the service's fold (DESIGN.md sections 3 and 4), for bench/kstreams/run:
// consumes <prefix>contacts.commands from offset 0 with exactly_once_v2 and folds room_join,
// booking, contact_delete and the member commands into RocksDB state stores through the
// Processor API, one processor with several stores, partitioned as produced (no repartition).
// With --until-end it stops by itself once its committed offsets reach the topic's end, and
// prints one line: records, seconds, peak RSS. See bench/kstreams/README.md for where it differs
// from the service's fold.
package contacts.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.RocksDBConfigSetter;
import org.apache.kafka.streams.state.Stores;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.Cache;
import org.rocksdb.LRUCache;
import org.rocksdb.Options;
import org.rocksdb.WriteBufferManager;

public final class ContactsFold {

  // The state stores, each a RocksDB store per partition (Kafka Streams' default persistent
  // store), logged to a changelog topic (its default too). Keys are big-endian, "desc" fields
  // inverted, so that RocksDB's byte order is the views' order (views/keys.h).
  static final String DEDUP = "dedup"; // ws command_id -> ""
  static final String CONTACTS = "contacts"; // ws contact -> Contact
  static final String EMAILS = "emails"; // ws email -> contact id
  static final String LIST = "list-order"; // ws ~last_seen ~contact -> search text
  static final String EVENTS = "events"; // ws contact ~created ~event -> ContactEvent
  static final String COUNTS = "contact-counts"; // ws -> number of contacts
  static final String MEMBERS = "members"; // ws user -> role
  static final String AUDIT = "audit"; // ws ~audit -> audit entry (JSON)
  static final String DELETED = "deleted-resources"; // kind ws resource -> position id
  static final String[] STORES = {DEDUP, CONTACTS, EMAILS, LIST, EVENTS, COUNTS, MEMBERS, AUDIT, DELETED};

  static final byte[] EMPTY = new byte[0];
  static final ObjectMapper JSON = new ObjectMapper();

  // What the processors did, over all tasks and threads.
  static final LongAdder PROCESSED = new LongAdder();
  static final LongAdder APPLIED = new LongAdder();
  static final LongAdder DUPLICATES = new LongAdder();
  static final LongAdder INVALID = new LongAdder();
  static final LongAdder IGNORED = new LongAdder();
  static final LongAdder CREATED = new LongAdder();
  // When the first record reached a processor (ms since the epoch): what came before is start-up.
  static final java.util.concurrent.atomic.AtomicLong FIRST_RECORD_MS = new java.util.concurrent.atomic.AtomicLong();
  static final LongAdder DELETED_CONTACTS = new LongAdder();

  // ---- keys -------------------------------------------------------------------------------

  static Bytes key(long... parts) {
    ByteBuffer b = ByteBuffer.allocate(parts.length * 8);
    for (long p : parts) b.putLong(p);
    return Bytes.wrap(b.array());
  }

  static Bytes key(long ws, String text) {
    byte[] t = text.getBytes(StandardCharsets.UTF_8);
    return Bytes.wrap(ByteBuffer.allocate(8 + t.length).putLong(ws).put(t).array());
  }

  // ---- rows -------------------------------------------------------------------------------

  static final class Contact {
    long id, workspaceId, eventCount, lastSeenAt, createdAt, updatedAt, nameAt, namePosition;
    String name, email, foldedName, foldedEmail;

    byte[] encode() {
      return write(out -> {
        out.writeLong(id);
        out.writeLong(workspaceId);
        out.writeUTF(name);
        writeNullable(out, email);
        out.writeLong(eventCount);
        out.writeLong(lastSeenAt);
        out.writeLong(createdAt);
        out.writeLong(updatedAt);
        out.writeLong(nameAt);
        out.writeLong(namePosition);
        out.writeUTF(foldedName);
        out.writeUTF(foldedEmail);
      });
    }

    static Contact decode(byte[] bytes) {
      try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
        Contact c = new Contact();
        c.id = in.readLong();
        c.workspaceId = in.readLong();
        c.name = in.readUTF();
        c.email = readNullable(in);
        c.eventCount = in.readLong();
        c.lastSeenAt = in.readLong();
        c.createdAt = in.readLong();
        c.updatedAt = in.readLong();
        c.nameAt = in.readLong();
        c.namePosition = in.readLong();
        c.foldedName = in.readUTF();
        c.foldedEmail = in.readUTF();
        return c;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    // The value of its list-order key: what search needs.
    byte[] searchText() {
      return write(out -> {
        out.writeUTF(foldedName);
        out.writeUTF(foldedEmail);
      });
    }

    Bytes listKey() {
      return key(workspaceId, ~lastSeenAt, ~id);
    }
  }

  interface Writer {
    void write(DataOutputStream out) throws IOException;
  }

  static byte[] write(Writer w) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(128);
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      w.write(out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  static void writeNullable(DataOutputStream out, String s) throws IOException {
    out.writeBoolean(s != null);
    if (s != null) out.writeUTF(s);
  }

  static String readNullable(DataInputStream in) throws IOException {
    return in.readBoolean() ? in.readUTF() : null;
  }

  static void writeNullable(DataOutputStream out, Long v) throws IOException {
    out.writeBoolean(v != null);
    if (v != null) out.writeLong(v);
  }

  // ---- the fold ---------------------------------------------------------------------------

  static final class InvalidCommand extends Exception {
    InvalidCommand(String reason) {
      super(reason, null, false, false);
    }
  }

  static String text(JsonNode parent, String field, boolean required) throws InvalidCommand {
    JsonNode n = parent.get(field);
    if (n == null || n.isNull()) {
      if (required) throw new InvalidCommand("missing field \"" + field + "\"");
      return null;
    }
    if (!n.isTextual()) throw new InvalidCommand("\"" + field + "\" is not a string");
    return n.textValue();
  }

  static long id(JsonNode parent, String field) throws InvalidCommand {
    JsonNode n = parent.get(field);
    if (n == null || !n.canConvertToExactIntegral() || n.asLong() < 1 || n.asLong() > (1L << 53) - 1)
      throw new InvalidCommand("\"" + field + "\" is not a positive id");
    return n.asLong();
  }

  static JsonNode object(JsonNode parent, String field) throws InvalidCommand {
    JsonNode n = parent.get(field);
    if (n == null || !n.isObject()) throw new InvalidCommand("\"" + field + "\" is not an object");
    return n;
  }

  static final class Fold implements Processor<byte[], byte[], Void, Void> {
    private final int partitions;
    private ProcessorContext<Void, Void> context;
    private KeyValueStore<Bytes, byte[]> dedup, contacts, emails, list, events, counts, members,
        audit, deleted;

    Fold(int partitions) {
      this.partitions = partitions;
    }

    @Override
    public void init(ProcessorContext<Void, Void> context) {
      this.context = context;
      dedup = context.getStateStore(DEDUP);
      contacts = context.getStateStore(CONTACTS);
      emails = context.getStateStore(EMAILS);
      list = context.getStateStore(LIST);
      events = context.getStateStore(EVENTS);
      counts = context.getStateStore(COUNTS);
      members = context.getStateStore(MEMBERS);
      audit = context.getStateStore(AUDIT);
      deleted = context.getStateStore(DELETED);
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
      if (FIRST_RECORD_MS.get() == 0) FIRST_RECORD_MS.compareAndSet(0, System.currentTimeMillis());
      PROCESSED.increment();
      RecordMetadata where = context.recordMetadata().orElseThrow();
      // Ids derive from the log position, as in the service (core/types.h id_from_position).
      long positionId = where.offset() * partitions + where.partition() + 1;
      try {
        if (record.value() == null) throw new InvalidCommand("empty record");
        JsonNode c;
        try {
          c = JSON.readTree(record.value());
        } catch (IOException e) {
          throw new InvalidCommand("not JSON");
        }
        if (c == null || !c.isObject()) throw new InvalidCommand("not a JSON object");
        String type = text(c, "type", true);
        String commandId = text(c, "command_id", true);
        if (commandId.isEmpty() || commandId.length() > 128)
          throw new InvalidCommand("\"command_id\" is not 1-128 characters");
        long ws = id(c, "workspace_id");
        JsonNode at = c.get("occurred_at");
        long occurredAt = at != null && at.canConvertToExactIntegral() ? at.asLong() : 0;
        Bytes dedupKey = key(ws, commandId);
        if (dedup.get(dedupKey) != null) {
          DUPLICATES.increment();
          return;
        }
        switch (type) {
          case "room_join", "booking" -> visit(c, type, ws, occurredAt, positionId);
          case "contact_delete" -> contactDelete(c, ws, occurredAt, positionId);
          case "member_upsert" -> members.put(key(ws, id(c, "user_id")),
              text(c, "role", true).getBytes(StandardCharsets.UTF_8));
          case "member_remove" -> members.delete(key(ws, id(c, "user_id")));
          case "room_delete" -> deleted.put(key(1, ws, id(c, "room_id")), key(positionId).get());
          case "booking_page_delete" ->
              deleted.put(key(2, ws, id(c, "booking_page_id")), key(positionId).get());
          default -> IGNORED.increment(); // API keys and webhooks: not folded here
        }
        dedup.put(dedupKey, EMPTY);
        APPLIED.increment();
      } catch (InvalidCommand e) {
        // The service dead-letters these on contacts.dlq; here they are only counted.
        INVALID.increment();
      }
    }

    private void visit(JsonNode c, String type, long ws, long occurredAt, long positionId)
        throws InvalidCommand {
      JsonNode participant = object(c, "participant");
      String name = text(participant, "name", true).strip();
      if (name.isEmpty() || name.length() > 200) throw new InvalidCommand("bad participant name");
      String rawEmail = text(participant, "email", false);
      String email = rawEmail == null ? null : rawEmail.strip().toLowerCase(Locale.ROOT);
      if (email != null && email.isEmpty()) email = null;
      boolean room = type.equals("room_join");
      JsonNode resource = object(c, room ? "room" : "booking_page");
      long resourceId = id(resource, "id");
      String first = text(resource, room ? "name" : "title", true);
      String second = room ? text(resource, "display_name", false) : text(resource, "slug", true);
      JsonNode meta = c.get("metadata");
      String metadata = meta == null || meta.isNull() ? null : meta.toString();

      // Find or create the contact by its normalized email.
      Contact contact = null;
      Bytes emailKey = email == null ? null : key(ws, email);
      if (emailKey != null) {
        byte[] id = emails.get(emailKey);
        if (id != null) {
          byte[] row = contacts.get(key(ws, ByteBuffer.wrap(id).getLong()));
          if (row != null) contact = Contact.decode(row);
        }
      }
      Bytes oldListKey = null;
      byte[] oldSearchText = null;
      if (contact == null) {
        contact = new Contact();
        contact.id = positionId;
        contact.workspaceId = ws;
        contact.name = name;
        contact.email = email;
        contact.lastSeenAt = contact.createdAt = contact.updatedAt = contact.nameAt = occurredAt;
        contact.namePosition = positionId;
        contact.foldedName = name.toLowerCase(Locale.ROOT);
        contact.foldedEmail = email == null ? "" : email;
        CREATED.increment();
        if (emailKey != null) emails.put(emailKey, key(contact.id).get());
        Bytes countKey = key(ws);
        byte[] count = counts.get(countKey);
        counts.put(countKey, key((count == null ? 0 : ByteBuffer.wrap(count).getLong()) + 1).get());
      } else {
        oldListKey = contact.listKey();
        oldSearchText = contact.searchText();
      }
      contact.eventCount += 1;
      contact.lastSeenAt = Math.max(contact.lastSeenAt, occurredAt);
      contact.updatedAt = Math.max(contact.updatedAt, occurredAt);
      contact.createdAt = Math.min(contact.createdAt, occurredAt);
      if (occurredAt > contact.nameAt
          || (occurredAt == contact.nameAt && positionId >= contact.namePosition)) {
        if (!contact.name.equals(name)) {
          contact.name = name;
          contact.foldedName = name.toLowerCase(Locale.ROOT);
        }
        contact.nameAt = occurredAt;
        contact.namePosition = positionId;
      }
      contacts.put(key(ws, contact.id), contact.encode());
      Bytes listKey = contact.listKey();
      if (oldListKey == null || !oldListKey.equals(listKey)) {
        if (oldListKey != null) list.delete(oldListKey);
        list.put(listKey, contact.searchText());
      } else {
        byte[] searchText = contact.searchText();
        if (!java.util.Arrays.equals(searchText, oldSearchText)) list.put(listKey, searchText);
      }
      final long contactId = contact.id;
      events.put(key(ws, contactId, ~occurredAt, ~positionId), write(out -> {
        out.writeLong(positionId);
        out.writeLong(contactId);
        out.writeLong(ws);
        out.writeBoolean(room);
        writeNullable(out, room ? (Long) resourceId : null);
        writeNullable(out, room ? first : null);
        writeNullable(out, room ? second : null);
        writeNullable(out, room ? null : (Long) resourceId);
        writeNullable(out, room ? null : first);
        writeNullable(out, room ? null : second);
        writeNullable(out, metadata);
        out.writeLong(occurredAt);
      }));
    }

    private void contactDelete(JsonNode c, long ws, long occurredAt, long positionId)
        throws InvalidCommand {
      long contactId = id(c, "contact_id");
      Bytes contactKey = key(ws, contactId);
      byte[] row = contacts.get(contactKey);
      if (row == null) return; // deleting a missing contact is a no-op
      Contact contact = Contact.decode(row);
      DELETED_CONTACTS.increment();
      contacts.delete(contactKey);
      list.delete(contact.listKey());
      if (contact.email != null) emails.delete(key(ws, contact.email));
      // Cascade: every event of the contact, by its key prefix.
      List<Bytes> eventKeys = new ArrayList<>();
      try (KeyValueIterator<Bytes, byte[]> it =
          events.prefixScan(key(ws, contactId), Serdes.Bytes().serializer())) {
        while (it.hasNext()) eventKeys.add(it.next().key);
      }
      for (Bytes k : eventKeys) events.delete(k);
      Bytes countKey = key(ws);
      byte[] count = counts.get(countKey);
      counts.put(countKey, key((count == null ? 0 : ByteBuffer.wrap(count).getLong()) - 1).get());
      JsonNode actor = c.get("actor");
      Map<String, Object> entry = new HashMap<>();
      entry.put("id", positionId);
      entry.put("action", "contact.delete");
      entry.put("actor", actor == null ? null : actor);
      entry.put("target_type", "contact");
      entry.put("target_id", contactId);
      Map<String, Object> details = new HashMap<>();
      details.put("name", contact.name);
      details.put("email", contact.email);
      entry.put("details", details);
      entry.put("created_at", occurredAt);
      try {
        audit.put(key(ws, ~positionId), JSON.writeValueAsBytes(entry));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  // ---- RocksDB memory -----------------------------------------------------------------------

  // The bounded-memory setup of the Kafka Streams memory-management docs: one block cache and
  // one write buffer manager shared by every store instance of the process, the memtables
  // charged to the cache. Without it each of the (stores x partitions) RocksDB instances gets
  // Kafka Streams' defaults (a 50 MiB block cache and 3 x 16 MiB memtables each).
  public static final class BoundedMemoryRocksDBConfig implements RocksDBConfigSetter {
    static long cacheBytes = 448L << 20;
    static long writeBufferBytes = 192L << 20;
    private static Cache cache;
    private static WriteBufferManager writeBufferManager;

    static synchronized void ensure() {
      if (cache == null) {
        cache = new LRUCache(cacheBytes, -1, false, 0.1);
        writeBufferManager = new WriteBufferManager(writeBufferBytes, cache);
      }
    }

    @Override
    public void setConfig(String storeName, Options options, Map<String, Object> configs) {
      ensure();
      BlockBasedTableConfig table = (BlockBasedTableConfig) options.tableFormatConfig();
      table.setBlockCache(cache);
      table.setCacheIndexAndFilterBlocks(true);
      table.setCacheIndexAndFilterBlocksWithHighPriority(true);
      table.setPinTopLevelIndexAndFilter(true);
      options.setWriteBufferManager(writeBufferManager);
      options.setTableFormatConfig(table);
    }

    @Override
    public void close(String storeName, Options options) {
      // The cache and the write buffer manager are shared: never closed per store.
    }
  }

  // ---- main -------------------------------------------------------------------------------

  static Topology topology(String topic, int partitions, boolean changelog) {
    Topology t = new Topology();
    t.addSource("commands", Serdes.ByteArray().deserializer(), Serdes.ByteArray().deserializer(), topic);
    t.addProcessor("fold", () -> new Fold(partitions), "commands");
    for (String store : STORES) {
      var builder = Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(store),
          Serdes.Bytes(), Serdes.ByteArray());
      // Logged to a changelog topic (the default, what restores a lost store), unless told not to.
      t.addStateStore(changelog ? builder : builder.withLoggingDisabled(), "fold");
    }
    return t;
  }

  static long vmHwmKib() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status")))
        if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
    } catch (IOException ignored) {
      // not Linux
    }
    return -1;
  }

  static void usage() {
    System.err.println(String.join("\n",
        "usage: java -jar contacts-kstreams.jar --brokers HOST:PORT --topic-prefix P",
        "         [--application-id ID] [--state-dir DIR] [--threads N] [--until-end]",
        "         [--timeout-s S] [--rocksdb bounded|default] [--cache-mb N] [--write-buffer-mb N]",
        "         [--changelog on|off]",
        "         [streams.config=value ...]",
        "Folds P + contacts.commands from offset 0 into RocksDB state stores (exactly_once_v2).",
        "--until-end: stop once the committed offsets reach the topic's end (as it was at start)",
        "and print: records, seconds since the JVM started, peak RSS (VmHWM)."));
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> flags = new HashMap<>();
    Properties overrides = new Properties();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--until-end")) flags.put("until-end", "true");
      else if (a.equals("--help") || a.equals("-h")) {
        usage();
        return;
      } else if (a.startsWith("--") && i + 1 < args.length) flags.put(a.substring(2), args[++i]);
      else if (a.contains("=")) overrides.put(a.substring(0, a.indexOf('=')), a.substring(a.indexOf('=') + 1));
      else {
        usage();
        System.exit(2);
      }
    }
    String brokers = flags.getOrDefault("brokers", "127.0.0.1:9092");
    String prefix = flags.getOrDefault("topic-prefix", "");
    String topic = prefix + "contacts.commands";
    String appId = flags.getOrDefault("application-id",
        "contacts-kstreams-" + prefix.replaceAll("[^A-Za-z0-9._-]", "_") + System.currentTimeMillis());
    String stateDir = flags.containsKey("state-dir") ? flags.get("state-dir")
        : Files.createTempDirectory("contacts-kstreams-").toString();
    int threads = Integer.parseInt(flags.getOrDefault("threads", "2"));
    long timeoutMs = Long.parseLong(flags.getOrDefault("timeout-s", "1800")) * 1000;
    String rocksdb = flags.getOrDefault("rocksdb", "bounded");
    BoundedMemoryRocksDBConfig.cacheBytes =
        (Long.parseLong(flags.getOrDefault("cache-mb", "256"))
            + Long.parseLong(flags.getOrDefault("write-buffer-mb", "192"))) << 20;
    BoundedMemoryRocksDBConfig.writeBufferBytes = Long.parseLong(flags.getOrDefault("write-buffer-mb", "192")) << 20;

    Properties adminProps = new Properties();
    adminProps.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    try (Admin admin = Admin.create(adminProps)) {
      TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
      int partitions = d.partitions().size();
      Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
      for (var p : d.partitions()) latest.put(new TopicPartition(topic, p.partition()), OffsetSpec.latest());
      Map<TopicPartition, Long> end = new HashMap<>();
      for (Map.Entry<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> e :
          admin.listOffsets(latest).all().get().entrySet())
        end.put(e.getKey(), e.getValue().offset());

      Properties props = new Properties();
      props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
      props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
      props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
      props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
      props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, threads);
      props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
      if (rocksdb.equals("bounded"))
        props.put(StreamsConfig.ROCKSDB_CONFIG_SETTER_CLASS_CONFIG, BoundedMemoryRocksDBConfig.class);
      props.putAll(overrides);

      KafkaStreams streams = new KafkaStreams(
          topology(topic, partitions, !flags.getOrDefault("changelog", "on").equals("off")), props);
      AtomicInteger failed = new AtomicInteger();
      streams.setUncaughtExceptionHandler(e -> {
        System.err.println("kstreams: " + e);
        failed.set(1);
        return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
      });
      Runtime.getRuntime().addShutdownHook(new Thread(() -> streams.close(Duration.ofSeconds(30))));
      streams.start();
      long jvmStart = ManagementFactory.getRuntimeMXBean().getStartTime();
      long total = end.values().stream().mapToLong(Long::longValue).sum();
      System.err.printf("kstreams: %s, %d partitions, end offsets total %d, application.id %s, state %s%n",
          topic, partitions, total, appId, stateDir);
      if (!flags.containsKey("until-end")) {
        Thread.currentThread().join(); // until SIGTERM
      }
      long deadline = System.currentTimeMillis() + timeoutMs;
      while (true) {
        if (failed.get() != 0 || streams.state() == KafkaStreams.State.ERROR
            || streams.state() == KafkaStreams.State.NOT_RUNNING) {
          System.err.println("kstreams: the application stopped (" + streams.state() + ")");
          System.exit(1);
        }
        if (System.currentTimeMillis() > deadline) {
          System.err.println("kstreams: not at the topic's end within the timeout");
          System.exit(1);
        }
        Map<TopicPartition, OffsetAndMetadata> committed =
            admin.listConsumerGroupOffsets(appId).partitionsToOffsetAndMetadata().get();
        boolean done = true;
        for (Map.Entry<TopicPartition, Long> e : end.entrySet()) {
          OffsetAndMetadata o = committed.get(e.getKey());
          if (e.getValue() > 0 && (o == null || o.offset() < e.getValue())) done = false;
        }
        if (done) break;
        Thread.sleep(100);
      }
      long now = System.currentTimeMillis();
      double seconds = (now - jvmStart) / 1000.0;
      double startup = FIRST_RECORD_MS.get() == 0 ? seconds : (FIRST_RECORD_MS.get() - jvmStart) / 1000.0;
      System.out.printf(Locale.ROOT,
          "kstreams done: records %d processed %d applied %d duplicates %d invalid %d ignored %d seconds %.2f vmhwm_kib %d"
              + " contacts_created %d contacts_deleted %d first_record_s %.2f%n",
          total, PROCESSED.sum(), APPLIED.sum(), DUPLICATES.sum(), INVALID.sum(), IGNORED.sum(),
          seconds, vmHwmKib(), CREATED.sum(), DELETED_CONTACTS.sum(), startup);
      System.out.flush();
      streams.close(Duration.ofSeconds(30));
      System.exit(0);
    }
  }
}
