import type { Metadata } from "next";

import { ApiProvider } from "@/components/api-provider";
import { TasksView } from "@/components/tasks-view";
import { apiBaseUrl, requireUser } from "@/lib/session";

export const metadata: Metadata = { title: "Your tasks" };
export const dynamic = "force-dynamic";

export default async function TasksPage() {
  const user = await requireUser("/tasks");
  return (
    <ApiProvider apiUrl={apiBaseUrl()}>
      <TasksView user={user} />
    </ApiProvider>
  );
}
