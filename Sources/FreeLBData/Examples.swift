/// The target of a classification or regression example.
public enum Label: Sendable, Equatable {
    case classIndex(Int)
    case score(Float)
}

/// One GLUE example. `guid` is the file's id/index column when it has one (needed for submissions),
/// otherwise "<split>-<line>".
public struct Example: Sendable, Equatable {
    public var guid: String
    public var textA: String
    public var textB: String?
    /// nil on test splits.
    public var label: Label?

    public init(guid: String, textA: String, textB: String? = nil, label: Label? = nil) {
        self.guid = guid
        self.textA = textA
        self.textB = textB
        self.label = label
    }
}

/// One multiple-choice question (ARC, CommonsenseQA). `label` is the index of the correct choice.
public struct MultipleChoiceExample: Sendable, Equatable {
    public var id: String
    public var question: String
    public var context: String?
    public var choices: [String]
    /// The choice labels as written in the file ("A"... or "1"...).
    public var choiceLabels: [String]
    /// nil when the file has no answer (CommonsenseQA test).
    public var label: Int?

    public init(
        id: String, question: String, context: String? = nil, choices: [String],
        choiceLabels: [String]? = nil, label: Int? = nil
    ) {
        self.id = id
        self.question = question
        self.context = context
        self.choices = choices
        self.choiceLabels = choiceLabels ?? choices.indices.map { String(UnicodeScalar(UInt8(65 + $0 % 26))) }
        self.label = label
    }
}

/// The examples of one split of any task, for callers that handle GLUE and multiple choice alike.
public enum TaskExamples: Sendable, Equatable {
    case classification([Example])
    case multipleChoice([MultipleChoiceExample])

    public var count: Int {
        switch self {
        case .classification(let e): return e.count
        case .multipleChoice(let e): return e.count
        }
    }
}
