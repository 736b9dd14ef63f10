namespace Flotilla.Node.Http;

// The payload's shape rules, kept apart from the field rules (the Api compiles this file too).
internal sealed partial record SubmitJobRequest
{
    private void CheckShape(string prefix, Dictionary<string, string[]> errors)
    {
        if (Payload is { } payload && JsonShape.DepthOf(payload) > JsonShape.MaxDepth)
        {
            errors[prefix + "payload"] = [JsonShape.DepthRule];
        }
    }
}
