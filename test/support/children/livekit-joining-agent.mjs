// The agent the worker tests run in their job processes (plain JavaScript: a job process is a
// bare `node` that cannot load TypeScript). It joins the room and publishes nothing; its job
// ends when the room does.
import { defineAgent } from '@livekit/agents';

// biome-ignore lint/style/noDefaultExport: @livekit/agents loads an agent from its module's default export
export default defineAgent({
  entry: async (ctx) => {
    await ctx.connect();
  },
});
