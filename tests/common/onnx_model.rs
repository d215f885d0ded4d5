//! Tiny ONNX models written byte by byte (the protobuf by hand: no Python, no model files in
//! the repository), for tests of what the program does with a broken or hostile model.

/// A protobuf message being written.
#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
    fn varint(&mut self, mut value: u64) {
        loop {
            let byte = (value & 0x7F) as u8;
            value >>= 7;
            if value == 0 {
                self.0.push(byte);
                return;
            }
            self.0.push(byte | 0x80);
        }
    }
    fn key(&mut self, field: u64, wire: u64) {
        self.varint((field << 3) | wire);
    }
    fn int(mut self, field: u64, value: i64) -> Self {
        self.key(field, 0);
        self.varint(value as u64);
        self
    }
    fn bytes(mut self, field: u64, value: &[u8]) -> Self {
        self.key(field, 2);
        self.varint(value.len() as u64);
        self.0.extend_from_slice(value);
        self
    }
    fn text(self, field: u64, value: &str) -> Self {
        self.bytes(field, value.as_bytes())
    }
    fn message(self, field: u64, value: Message) -> Self {
        self.bytes(field, &value.0)
    }
}

fn attr_int(name: &str, value: i64) -> Message {
    Message::default().text(1, name).int(20, 2).int(3, value)
}

fn attr_ints(name: &str, values: &[i64]) -> Message {
    let mut attr = Message::default().text(1, name).int(20, 7);
    for &v in values {
        attr = attr.int(8, v);
    }
    attr
}

fn node(op: &str, inputs: &[&str], output: &str, attrs: Vec<Message>) -> Message {
    let mut node = Message::default();
    for input in inputs {
        node = node.text(1, input);
    }
    node = node.text(2, output).text(3, output).text(4, op);
    for attr in attrs {
        node = node.message(5, attr);
    }
    node
}

/// `dims`: a negative number is a named (dynamic) dimension.
fn tensor_value(name: &str, elem_type: i64, dims: &[i64]) -> Message {
    let mut shape = Message::default();
    for &d in dims {
        let dim = if d < 0 {
            Message::default().text(2, "N")
        } else {
            Message::default().int(1, d)
        };
        shape = shape.message(1, dim);
    }
    let tensor = Message::default().int(1, elem_type).message(2, shape);
    Message::default()
        .text(1, name)
        .message(2, Message::default().message(1, tensor))
}

/// A model in SSCD's form (uint8 `[N, side, side, 3]` in, float `[N, 3]` out) whose output is
/// each image's mean colour times `factor`: 0 gives all-zero embeddings, NaN gives NaN.
pub fn mean_colour_model(side: i64, factor: f32) -> Vec<u8> {
    let constant = Message::default()
        .int(2, 1)
        .bytes(4, &factor.to_le_bytes())
        .text(8, "k");
    let graph = Message::default()
        .message(1, node("Cast", &["image"], "f", vec![attr_int("to", 1)]))
        .message(
            1,
            node(
                "ReduceMean",
                &["f"],
                "m",
                vec![attr_ints("axes", &[1, 2]), attr_int("keepdims", 0)],
            ),
        )
        .message(1, node("Mul", &["m", "k"], "embedding", Vec::new()))
        .text(2, "test")
        .message(5, constant)
        .message(11, tensor_value("image", 2, &[-1, side, side, 3]))
        .message(12, tensor_value("embedding", 1, &[-1, 3]));
    Message::default()
        .int(1, 8)
        .text(2, "replicant-tests")
        .message(7, graph)
        .message(8, Message::default().text(1, "").int(2, 13))
        .0
}
