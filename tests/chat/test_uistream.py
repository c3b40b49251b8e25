from __future__ import annotations

from apps.chat import uistream
from apps.chat.runner import calls_closed
from tests.ai_sdk.reader import sdk_read


def a_turn() -> list[uistream.Chunk]:
    """Two steps: reasoning, text and a tool call that works, one that fails; then an answer."""
    return [
        uistream.start("msg-1"),
        uistream.start_step(),
        uistream.reasoning_start("r1"),
        uistream.reasoning_delta("r1", "Let me look"),
        uistream.reasoning_end("r1"),
        uistream.text_start("t1"),
        uistream.text_delta("t1", "I will "),
        uistream.text_delta("t1", "read it."),
        uistream.text_end("t1"),
        uistream.tool_input_start("call-1", "Read"),
        uistream.tool_input_delta("call-1", '{"file_path": '),
        uistream.tool_input_delta("call-1", '"README.md"}'),
        uistream.tool_input_available("call-1", "Read", {"file_path": "README.md"}),
        uistream.tool_input_start("call-2", "Bash"),
        uistream.tool_input_available("call-2", "Bash", {"command": "false"}),
        uistream.tool_output_available("call-1", "# Demo\n"),
        uistream.tool_output_error("call-2", "exit code 1"),
        uistream.finish_step(),
        uistream.start_step(),
        uistream.text_start("t2"),
        uistream.text_delta("t2", "Done: a demo."),
        uistream.text_end("t2"),
        uistream.finish_step(),
        uistream.finish(
            {
                "model": "openai/gpt-4.1",
                "usage": {"inputTokens": 120, "outputTokens": 30, "cachedTokens": 100},
                "cost": 0.0012,
            },
            "stop",
        ),
    ]


def body_of(chunks: list[uistream.Chunk]) -> str:
    return "".join(uistream.frame(chunk) for chunk in chunks) + uistream.DONE_FRAME


def assembled(chunks: list[uistream.Chunk]) -> uistream.UIMessage:
    assembler = uistream.MessageAssembler()
    for chunk in chunks:
        assembler.add(chunk)
    return assembler.message()


def test_the_ai_sdk_accepts_every_chunk_as_sent():
    chunks = a_turn()

    read = sdk_read(body_of(chunks))

    assert read["chunks"] == chunks


def test_the_stored_message_is_the_one_the_ai_sdk_rebuilds():
    chunks = a_turn()

    read = sdk_read(body_of(chunks))

    assert assembled(chunks) == read["message"]
    tools = [part for part in read["message"]["parts"] if part["type"] == "dynamic-tool"]
    assert [(tool["toolName"], tool["state"]) for tool in tools] == [
        ("Read", "output-available"),
        ("Bash", "output-error"),
    ]


def test_a_turn_cut_short_by_an_error_is_rebuilt_as_far_as_it_went():
    chunks = [
        *a_turn()[:12],
        uistream.error("The model's provider is rate limiting: try again in 20 s"),
        uistream.finish(
            {"model": "m", "usage": {"inputTokens": 0, "outputTokens": 0}, "interrupted": True}
        ),
    ]

    read = sdk_read(body_of(chunks))

    assert read["chunks"] == chunks
    assert assembled(chunks)["parts"][:-1] == read["message"]["parts"][:-1]
    assert assembled(chunks)["metadata"] == read["message"]["metadata"]


def test_a_tool_call_cut_while_its_input_streamed_is_stored_with_an_input_as_the_sdk_has_it():
    chunks: list[uistream.Chunk] = [
        uistream.start("msg-1"),
        uistream.start_step(),
        uistream.tool_input_start("call-1", "Write"),
        uistream.tool_input_delta("call-1", '{"file_path": "a.t'),
    ]
    assembler = uistream.MessageAssembler("msg-1")
    for chunk in chunks:
        assembler.add(chunk)

    ending = [
        *calls_closed(assembler),
        uistream.finish({"model": "m", "usage": {"inputTokens": 0, "outputTokens": 0}}),
    ]
    read = sdk_read(body_of([*chunks, *ending]))

    tool = next(part for part in read["message"]["parts"] if part["type"] == "dynamic-tool")
    assert (tool["state"], tool["input"]) == ("output-error", {})
    for chunk in ending:
        assembler.add(chunk)
    assert assembler.message()["parts"] == read["message"]["parts"]
