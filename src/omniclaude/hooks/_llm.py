"""Turning a transcript's API responses into ``llm_call`` events, in the right execution.

Where a response belongs, first that applies:

1. a subagent's transcript (or a sidechain line carrying ``agentId``): that subagent's
   execution — created (implied) when the hooks never announced it;
2. the session's prompt that started last before the response (the hooks' history, kept after
   the prompt and the session closed, because transcripts lag);
3. the session itself.

Its cost is its tokens times the price table (``cost_source = estimate``), or none when the model
is not in the table (``unpriced``). The event id is :func:`~omniclaude.events.llm_call_id`, so
the same response read again — a second line of it, a re-read, an import, another file that
repeats it — is stored once.
"""

from __future__ import annotations

from typing import Any

from omniclaude.events import CostSource, EventBase, ExecutionStarted, LlmCall, llm_call_id
from omniclaude.hooks._context import MappingContext, project_name, ts
from omniclaude.hooks.history import SessionHistory
from omniclaude.hooks.responses import Response, usage_tokens
from omniclaude.hooks.sessions import (
    AGENT_NAME,
    AgentState,
    agent_correlation_id,
    derive_id,
    session_correlation_id,
)

__all__ = ["LlmCalls"]

_PROVIDER = "anthropic"


def _numbers(usage: dict[str, Any]) -> dict[str, Any]:
    """The usage object without free text (it holds counts, a tier, a split by TTL)."""
    return {
        k: v
        for k, v in usage.items()
        if isinstance(v, int | float | bool) or (isinstance(v, str) and len(v) <= 64)
        or (isinstance(v, dict) and all(isinstance(x, int | float) for x in v.values()))
    }  # fmt: skip


class LlmCalls(MappingContext):
    """Maps assembled responses (see :mod:`omniclaude.hooks.responses`) to LLM calls."""

    def llm_calls(
        self,
        responses: list[Response],
        *,
        session_id: str,
        agent_id: str | None = None,
        source: str = "transcript",
    ) -> list[EventBase]:
        """The events of ``responses`` read from one transcript.

        Args:
            responses: in file order.
            session_id: the session the transcript belongs to ("" when only the lines say).
            agent_id: the subagent whose transcript it is (None for a session's own).
            source: how they were learnt (``transcript`` live, ``import`` afterwards).
        """
        out: list[EventBase] = []
        for response in responses:
            out.extend(self._llm_call(response, session_id, agent_id, source))
        return out

    def _history_for(self, session_id: str, at_ns: int) -> SessionHistory:
        history = self._history.get(session_id)
        if history is None:  # a transcript read without its hooks: the session is implied
            history = self._history.session(
                session_id, str(session_correlation_id(session_id)), started_ns=at_ns
            )
        return history

    def _llm_call(
        self, r: Response, session_id: str, agent_id: str | None, source: str
    ) -> list[EventBase]:
        sid = session_id or r.session_id or "unknown"
        history = self._history_for(sid, r.start_ns)
        out: list[EventBase] = []
        agent_id = agent_id or (r.agent_id if r.is_sidechain else None)
        # The request was sent after its prompt's hook ran, so the prompt is the latest one
        # started before the response ENDED; the line before it (its estimated start) may
        # have been written a moment before that hook: the start is kept within its parent.
        prompt = history.prompt_at(r.end_ns)
        floor = history.started_ns
        if agent_id:
            record = history.agents.get(agent_id) or self._implied_agent(history, agent_id, r, out)
            cid, prompt_id, agent_name = record.correlation_id, record.prompt_id, record.agent_type
            floor = record.started_ns or floor
        elif prompt is not None:
            floor, cid, prompt_id = prompt
            agent_name = history.agent_type
        else:
            cid, prompt_id, agent_name = history.correlation_id, None, history.agent_type
        self._annotate(history, r, out)
        tokens = usage_tokens(r.usage)
        priced = self._prices.cost(
            r.model, input_tokens=tokens["input"], output_tokens=tokens["output"],
            cache_write_5m_tokens=tokens["cache_write_5m"],
            cache_write_1h_tokens=tokens["cache_write_1h"], cache_read_tokens=tokens["cache_read"],
        ) if self._prices is not None else None  # fmt: skip
        end = r.end_ns
        start = min(max(r.start_ns, floor), end)
        metadata = {
            k: v
            for k, v in {"git_branch": r.git_branch, "claude_code_version": r.version,
                         "lines": r.lines, "cwd": r.cwd}.items()
            if v is not None
        }  # fmt: skip
        project = history.project_path or r.cwd
        out.append(
            LlmCall(
                event_id=llm_call_id(request_id=r.request_id, message_id=r.message_id),
                correlation_id=cid,
                timestamp=ts(end),
                started_at=ts(start),
                duration_ms=(end - start) / 1e6,
                model=r.model[:256],
                provider=_PROVIDER,
                input_tokens=tokens["input"],
                output_tokens=tokens["output"],
                cache_creation_input_tokens=tokens["cache_write_5m"] + tokens["cache_write_1h"],
                cache_read_input_tokens=tokens["cache_read"],
                usage=_numbers(r.usage),
                stop_reason=r.stop_reason,
                request_id=r.request_id,
                message_id=r.message_id,
                tool_use_ids=r.tool_use_ids,
                cost_usd=float(priced.usd) if priced else None,
                cost_source=CostSource.ESTIMATE if priced else CostSource.UNPRICED,
                pricing_source=priced.source if priced else None,
                source=source,
                agent_name=agent_name or AGENT_NAME,
                session_id=sid,
                prompt_id=prompt_id,
                claude_agent_id=agent_id,
                is_sidechain=bool(agent_id) or r.is_sidechain,
                project_path=project,
                project_name=project_name(project),
                metadata=metadata,
            )
        )
        return out

    def _implied_agent(
        self, history: SessionHistory, agent_id: str, r: Response, out: list[EventBase]
    ) -> AgentState:
        """A subagent known only from its transcript: its execution, under the prompt then."""
        prompt = history.prompt_at(r.end_ns)
        cid = str(agent_correlation_id(history.session_id, agent_id))
        parent, prompt_id = (prompt[1], prompt[2]) if prompt else (history.correlation_id, None)
        record = AgentState(cid, parent, None, prompt_id, started_ns=r.start_ns)
        self._history.add_agent(history.session_id, agent_id, record)
        out.append(
            ExecutionStarted(
                event_id=derive_id("agent-started-implied", cid),
                correlation_id=cid,
                parent_correlation_id=record.parent_correlation_id,
                timestamp=ts(r.start_ns),
                agent_name="subagent",
                session_id=history.session_id,
                prompt_id=record.prompt_id,
                claude_agent_id=agent_id,
                project_path=history.project_path,
                project_name=project_name(history.project_path),
                metadata={"integration": "claude-code", "claude_agent_id": agent_id,
                          "implied": True, "implied_by": "transcript"},
            )
        )  # fmt: skip
        return record

    def _annotate(self, history: SessionHistory, r: Response, out: list[EventBase]) -> None:
        """Tell the session's row its git branch the first time a transcript line names it."""
        if not r.git_branch or r.git_branch == history.git_branch:
            return
        history.git_branch = r.git_branch
        out.append(
            ExecutionStarted(
                event_id=derive_id("session-branch", history.session_id, r.git_branch),
                correlation_id=history.correlation_id,
                timestamp=ts(history.started_ns),
                agent_name=history.agent_type or AGENT_NAME,
                session_id=history.session_id,
                project_path=history.project_path,
                project_name=project_name(history.project_path),
                metadata={"git_branch": r.git_branch},
            )
        )
