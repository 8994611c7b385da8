/**
 * Server-Sent Events as the HTML standard parses them, for the stream of `eventail tail`: text
 * arrives in chunks cut anywhere, lines end with LF, CRLF or CR, a blank line ends a message,
 * `:` lines are comments, several `data:` lines join with LF, and a message without data is none.
 */
export interface SseMessage {
  readonly event: string;
  readonly data: string;
}

export class SseParser {
  private buffer = "";
  /** The previous chunk ended with CR: a LF opening the next one belongs to that line end. */
  private afterCr = false;
  private event = "";
  private data: string[] = [];

  /** Feeds text; returns the messages it completed. */
  push(chunk: string): SseMessage[] {
    let text = chunk;
    if (text === "") return [];
    if (this.afterCr && text.startsWith("\n")) text = text.slice(1);
    this.afterCr = text.endsWith("\r");
    this.buffer += text;
    const messages: SseMessage[] = [];
    const lineEnd = /\r\n|\r|\n/g;
    let start = 0;
    for (let match = lineEnd.exec(this.buffer); match; match = lineEnd.exec(this.buffer)) {
      // A CR at the very end may be the first half of a CRLF still on its way.
      if (match[0] === "\r" && match.index === this.buffer.length - 1) {
        this.line(this.buffer.slice(start, match.index), messages);
        start = this.buffer.length;
        break;
      }
      this.line(this.buffer.slice(start, match.index), messages);
      start = match.index + match[0].length;
    }
    this.buffer = this.buffer.slice(start);
    return messages;
  }

  private line(line: string, messages: SseMessage[]): void {
    if (line === "") {
      if (this.data.length > 0) {
        messages.push({
          event: this.event === "" ? "message" : this.event,
          data: this.data.join("\n"),
        });
      }
      this.event = "";
      this.data = [];
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.event = value;
    else if (field === "data") this.data.push(value);
    // id and retry do not matter to a tail, which never reconnects by itself.
  }
}
