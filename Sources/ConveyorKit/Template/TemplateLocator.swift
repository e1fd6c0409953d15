/// A place in a template's own text, counted in Unicode scalars (what libYAML and Yams count
/// columns in), all from 0.
///
/// `offset` counts from the start of the text; `line` counts `\n` before the place and `column`
/// counts from the start of that line. A locator may use whichever suits it.
public struct TemplatePosition: Sendable, Equatable, Hashable {
    public var offset: Int
    public var line: Int
    public var column: Int

    public init(offset: Int, line: Int, column: Int) {
        self.offset = offset
        self.line = line
        self.column = column
    }
}

/// Maps a place in a template's text to its place in the job file, so that diagnostics point
/// into the YAML the user wrote.
///
/// The job loader knows the scalar's start mark and style and builds the locator; a scalar
/// whose text does not map line for line (a folded `>` scalar, a double-quoted scalar with
/// escapes) needs a locator of its own made with ``init(_:)``.
///
/// ```swift
/// // prompt: |          <- line 7
/// //   Summarise:       <- line 8, content indented by 2
/// //   {{input}}
/// let locator = TemplateLocator.lines(file: "jobs/x.yaml", line: 8, column: 3, indentation: 2)
/// ```
public struct TemplateLocator: Sendable {
    private let locate: @Sendable (TemplatePosition) -> SourceLocation

    public init(_ locate: @escaping @Sendable (TemplatePosition) -> SourceLocation) {
        self.locate = locate
    }

    public func location(of position: TemplatePosition) -> SourceLocation {
        locate(position)
    }

    /// Text that starts at `line`:`column` (1-based) and continues line by line, each further
    /// line starting after `indentation` columns: a literal block scalar (`|`), a single-line
    /// scalar without escapes (indentation then unused), or a whole file (`line: 1, column: 1,
    /// indentation: 0`).
    public static func lines(file: String, line: Int, column: Int, indentation: Int) -> TemplateLocator {
        TemplateLocator { position in
            if position.line == 0 {
                return SourceLocation(file: file, line: line, column: column + position.column)
            }
            return SourceLocation(file: file, line: line + position.line, column: indentation + 1 + position.column)
        }
    }

    /// Locations within the text itself, 1-based, under the name `file`: for a template read
    /// from S3 or SSM, or one with no file at all.
    public static func text(named file: String) -> TemplateLocator {
        lines(file: file, line: 1, column: 1, indentation: 0)
    }

}
