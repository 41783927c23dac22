// XML text from plain objects (fast-xml-parser's builder does the escaping). Attributes are keys
// starting with "@", text content is "#text".
import { XMLBuilder } from "fast-xml-parser";

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  textNodeName: "#text",
  format: true,
  indentBy: "  ",
  suppressEmptyNode: true,
  suppressBooleanAttributes: false,
});

export type XmlNode = { [key: string]: string | number | XmlNode | XmlNode[] | undefined };

export function toXml(root: XmlNode): string {
  return builder.build(root).trimEnd() + "\n";
}
