// Each line of stdin becomes one record of TOPIC keyed by KEY (the workspace id), with
// kafka-clients' defaults: java -cp "KAFKA_LIBS/*" examples/Producer.java BROKERS TOPIC KEY
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringSerializer;

public class Producer {
    public static void main(String[] args) throws Exception {
        String brokers = args[0], topic = args[1], key = args[2];
        Properties config = new Properties();
        config.put("bootstrap.servers", brokers);
        config.put("key.serializer", StringSerializer.class.getName());
        config.put("value.serializer", StringSerializer.class.getName());
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(config);
             BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            for (String line; (line = stdin.readLine()) != null; ) {
                sent.add(producer.send(new ProducerRecord<>(topic, key, line)));
            }
        }
        for (Future<RecordMetadata> record : sent) {
            record.get(); // throws if that record was not delivered
        }
    }
}
