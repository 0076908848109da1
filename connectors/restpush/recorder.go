package restpush

import (
	"yjshub/hub/connector"
)

// Recorder records what became of each message; see [connector.Recorder].
//
// The connector calls it from the goroutine of a [Connector.Run], one message at a time,
// before that message's offset is committed: when a method returns an error the message stays
// uncommitted, Run returns and the message is delivered again by the next Run. ctx is not
// cancelled when Run stops, so that an effect already achieved gets recorded; it is bounded by
// a timeout instead.
type Recorder = connector.Recorder

// Delivery describes one message handed to the department; see [connector.Delivery].
type Delivery = connector.Delivery

// Failure describes a message that will not be delivered; see [connector.Failure]. Its Reason
// is the HTTP status and, when the department answered with a JSON object, its "message" or
// "error" string, masked and cut to 200 bytes; or the transport error of the last attempt; or
// "undecodable message". Other bodies are not quoted at all, since they may echo the form.
type Failure = connector.Failure

// RecorderFuncs adapts two functions to a [Recorder].
type RecorderFuncs = connector.RecorderFuncs
