// ConveyorKit: the engine
