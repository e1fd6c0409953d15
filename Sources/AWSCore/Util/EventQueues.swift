import Dispatch

/// Where Conveyor's event handlers run: libcurl's transfer loops, the call scheduler, and the
/// signal and timer sources. Each of them keeps its own serial queue (its state belongs to that
/// queue, and `dispatchPrecondition` checks it), but every one of those queues targets `root`.
///
/// Why one root: libdispatch gives each busy serial queue that targets the overcommit global queue
/// its own thread, so a run had one thread per queue (transfer loop, scheduler, signals, ...) on
/// top of the Swift task pool. `root` targets the default (not overcommit) global queue instead, so
/// these handlers run one at a time on the same worker threads as Swift's tasks, and a run with
/// 1,000 calls in flight has 4 threads (Benchmarks/RESULTS.md, C). Their handlers are short and
/// never block: a handler must never wait (a semaphore, `sync`) on another queue of this tree,
/// which would deadlock it.
public enum EventQueues {
    /// The serial queue every event queue targets.
    public static let root = DispatchQueue(label: "conveyor.events", target: .global())

    /// A serial queue for one component's state and event sources, run through `root`.
    public static func serial(_ label: String) -> DispatchQueue {
        DispatchQueue(label: label, target: root)
    }
}
